"""Usernames are unique case-insensitively in the database itself, and checked through an index."""
from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from blog.extensions import db
from blog.models import User
from blog.services import accounts
from tests.factories import make_user


def test_the_database_refuses_a_username_differing_only_in_case(app):
    make_user(username="Ana")
    db.session.add(User(username="aNA", email="other@example.com", password_hash="x"))
    with pytest.raises(IntegrityError):
        db.session.commit()  # even a writer that skipped the service's check cannot add it
    db.session.rollback()
    assert accounts.username_taken("ANA") is True


def test_the_availability_check_uses_the_lower_username_index(app):
    make_user(username="Ana")
    query = select(func.count()).select_from(User).where(func.lower(User.username) == "ana")
    compiled = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if db.engine.dialect.name == "sqlite":
        plan = " ".join(str(row[-1]) for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert "uq_users_username_lower" in plan
    else:
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: ask whether the index can serve
        plan = " ".join(row[0] for row in db.session.execute(text(f"EXPLAIN {compiled}")))
        assert "uq_users_username_lower" in plan
        db.session.rollback()
