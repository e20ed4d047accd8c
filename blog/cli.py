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
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


# --- backup and restore (blog/services/backup.py) ------------------------------------------------

from pathlib import Path  # noqa: E402  (imports kept with the commands that use them)

from blog.services import backup  # noqa: E402


@click.command("backup")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Archive to write (a .tar.gz); replaced whole once complete.")
def backup_command(out: Path) -> None:
    """Write one archive with the database and every uploaded file, while the site keeps running."""
    started = time.perf_counter()
    with click.progressbar(length=len(backup.upload_files()), label="Backing up uploads", show_pos=True) as bar:
        try:
            report = backup.create(out, progress=bar.update)
        except backup.BackupError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(f"Backed up the {report.dialect} database (revision {report.revision or 'none'}) and "
               f"{report.files} uploaded files to {report.path} ({report.bytes:,} bytes) "
               f"in {time.perf_counter() - started:.1f}s.")


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already has content.")
def restore_command(archive: Path, force: bool) -> None:
    """Put back the database and uploads of a `flask backup` archive (stop the web and worker processes first)."""
    started = time.perf_counter()
    try:
        manifest = backup.read_manifest(archive)
        with click.progressbar(length=manifest.get("uploads", 0), label="Restoring uploads", show_pos=True) as bar:
            report = backup.restore(archive, force=force, progress=bar.update)
    except backup.BackupError as exc:
        raise click.ClickException(exc.message) from None
    rows = ", ".join(f"{name} {count}" for name, count in sorted(report.tables.items())) or "no rows"
    click.echo(f"Restored the backup of {report.created_at} (revision {report.revision or 'none'}) and "
               f"{report.files} uploaded files in {time.perf_counter() - started:.1f}s: {rows}.")
    click.echo("Next: `flask --app wsgi db upgrade` (if this code is newer than the backup), then start the "
               "web and worker processes again.")
