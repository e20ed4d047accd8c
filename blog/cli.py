"""Flask CLI commands (``flask --app wsgi ...``): thin wrappers over services."""
from __future__ import annotations

import time

import click
from flask import Flask

from blog.services import accounts
from blog.services import demo
from blog.services import fulltext
from blog.services.errors import ServiceError


@click.command("create-admin")
@click.option("--username", prompt=True, help="Login name of the new admin.")
@click.option("--email", prompt=True, help="Email address of the new admin.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 10 characters; prompted (hidden) when omitted.")
def create_admin(username: str, email: str, password: str) -> None:
    """Create an administrator account (prompts for anything not given as a flag)."""
    try:
        user = accounts.create_user(username, email, password, role="admin", email_confirmed=True)
    except ServiceError as exc:
        details = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in getattr(exc, "fields", {}).items())
        raise click.ClickException(f"{exc.message} {details}".strip()) from None
    click.echo(f"Created admin {user.username} <{user.email}>.")


@click.command("seed-db")
@click.option("--posts", default=40, show_default=True, type=click.IntRange(0, 1_000_000))
@click.option("--comments", default=120, show_default=True, type=click.IntRange(0, 10_000_000))
@click.option("--users", default=12, show_default=True, type=click.IntRange(4, 100_000))
@click.option("--seed", "seed_value", default=2026, show_default=True, help="Random seed: same seed, same content.")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when the database has content.")
def seed_db(posts: int, comments: int, users: int, seed_value: int, if_empty: bool) -> None:
    """Fill an empty database with realistic, deterministic demo content."""
    if not demo.is_empty():
        if if_empty:
            click.echo("Database already has content; not seeding.")
            return
        raise click.ClickException("The database already has content; seed-db only fills an empty one.")
    started = time.perf_counter()
    with click.progressbar(length=posts + comments, label="Seeding", show_pos=True) as bar:
        report = demo.seed(posts=posts, comments=comments, users=users, seed=seed_value, progress=bar.update)
    click.echo(
        f"Seeded {report.users} users, {report.categories} categories, {report.tags} tags, "
        f"{report.posts} posts and {report.comments} comments in {time.perf_counter() - started:.1f}s."
    )
    _reindex()  # the demo rows were bulk-inserted, past the signals that index a saved post
    click.echo(f"Demo admin: {demo.DEMO_ADMIN['email']} / {demo.DEMO_ADMIN['password']} "
               f"(other demo users: <name>@example.com / {demo.DEMO_PASSWORD})")


@click.command("reindex")
def reindex() -> None:
    """Rebuild the full-text search index from every published post."""
    _reindex()


def _reindex() -> None:
    started = time.perf_counter()
    with click.progressbar(length=fulltext.indexable_count(), label="Indexing", show_pos=True) as bar:
        count = fulltext.reindex(progress=bar.update)
    click.echo(f"Indexed {count} published posts for search in {time.perf_counter() - started:.1f}s.")


def register(app: Flask) -> None:
    """Attach the commands to ``app.cli``."""
    app.cli.add_command(create_admin)
    app.cli.add_command(seed_db)
    app.cli.add_command(reindex)
