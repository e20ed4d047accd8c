"""Flask CLI commands (``flask --app wsgi ...``): thin wrappers over services."""
from __future__ import annotations

import time
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

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


# --- moving in and out: export-posts, import-posts (issue 17) ------------------------------------

@click.command("export-posts")
@click.option("--format", "fmt", type=click.Choice(["json", "markdown"]), default="json", show_default=True,
              help="json: one versioned document; markdown: one file per post with YAML front matter.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into (created if missing); media files go under media/.")
def export_posts(fmt: str, out: Path) -> None:
    """Export every post and page (all statuses) with categories, tags, authors, comments, redirects and media."""
    from blog.services import export

    started = time.perf_counter()
    with click.progressbar(length=export.count(), label="Exporting", show_pos=True) as bar:
        counts = export.export(fmt, out, progress=bar.update)
    click.echo(f"Exported {counts['posts']} posts, {counts['pages']} pages, {counts.get('comments', 0)} comments "
               f"and {counts['media']} media files to {out} in {time.perf_counter() - started:.1f}s.")


@click.command("import-posts")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and report everything; keep nothing.")
@click.option("--media", "media_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A copy of wp-content/uploads (WXR), or the folder the export's media paths are relative to.")
@click.option("--author", "author_name", help="Username that gets the posts whose author the source does not name.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report as JSON to this file.")
def import_posts(path: Path, dry_run: bool, media_dir: Path | None, author_name: str | None,
                 report_file: Path | None) -> None:
    """Import our JSON export, a folder of Markdown files with front matter, or a WordPress WXR file."""
    import json

    from blog.extensions import db
    from blog.models import User
    from blog.services import importers

    author = None
    if author_name:
        author = db.session.scalar(select(User).where(User.username == author_name))
        if author is None:
            raise click.ClickException(f"There is no user {author_name!r} (create them first, e.g. with create-admin).")
    bar = click.progressbar(length=1, label="Importing" + (" (dry run)" if dry_run else ""), show_pos=True)

    def start(total: int) -> None:
        bar.length = max(total, 1)
        bar.render_progress()

    try:
        with bar:
            report = importers.run(path, dry_run=dry_run, media_dir=media_dir, author=author,
                                   progress=bar.update, start=start)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(report.text())
    if report_file:
        report_file.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")


_register_without_transfer = register


def register(app: Flask) -> None:  # noqa: F811 (extends the register above; this block stays self-contained)
    """Attach the commands to ``app.cli``, export-posts and import-posts included."""
    _register_without_transfer(app)
    app.cli.add_command(export_posts)
    app.cli.add_command(import_posts)
