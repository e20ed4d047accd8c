"""The flask commands: create-admin and seed-db."""
from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Post
from blog.models import User


def test_create_admin_with_flags(runner):
    result = runner.invoke(args=["create-admin", "--username", "boss", "--email", "boss@example.com",
                                 "--password", "a-long-password"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).filter_by(username="boss"))
    assert user.role == "admin" and user.email_confirmed and user.check_password("a-long-password")


def test_create_admin_prompts_for_what_is_missing(runner):
    result = runner.invoke(args=["create-admin"],
                           input="boss\nboss@example.com\na-long-password\na-long-password\n")
    assert result.exit_code == 0, result.output
    assert "Created admin boss" in result.output
    assert db.session.scalar(select(User).filter_by(username="boss")).role == "admin"


def test_create_admin_rejects_a_weak_password_and_writes_nothing(runner):
    result = runner.invoke(args=["create-admin", "--username", "boss", "--email", "boss@example.com",
                                 "--password", "short"])
    assert result.exit_code != 0
    assert "password" in result.output.lower()
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_create_admin_rejects_a_taken_username(runner):
    args = ["create-admin", "--username", "boss", "--email", "boss@example.com", "--password", "a-long-password"]
    runner.invoke(args=args)
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and "already registered" in result.output


def test_seed_db_fills_an_empty_database_and_prints_the_admin_login(runner):
    result = runner.invoke(args=["seed-db", "--posts", "15", "--comments", "30", "--users", "6"])
    assert result.exit_code == 0, result.output
    assert "Seeded 6 users" in result.output and "15 posts" in result.output
    assert "admin@example.com" in result.output
    assert db.session.scalar(select(func.count()).select_from(Post)) == 15


def test_seed_db_refuses_a_database_with_content_unless_if_empty(runner):
    runner.invoke(args=["seed-db", "--posts", "3", "--comments", "3", "--users", "4"])
    again = runner.invoke(args=["seed-db", "--posts", "3"])
    assert again.exit_code != 0 and "already has content" in again.output
    skipped = runner.invoke(args=["seed-db", "--if-empty"])
    assert skipped.exit_code == 0 and "not seeding" in skipped.output
    assert db.session.scalar(select(func.count()).select_from(Post)) == 3
