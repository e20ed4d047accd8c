"""Flask CLI commands (``flask --app wsgi ...``): thin wrappers over services."""
from __future__ import annotations

import time
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from blog.services import accounts
from blog.services import backup
from blog.services import demo
from blog.services import fulltext
from blog.services import pagecache
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


# --- reach: sitemap, digest, cache, view counts ---------------------------------------------

@click.command("generate-sitemap")
@click.option("--out", "out", default=None, type=click.Path(file_okay=False),
              help="Folder to write sitemap.xml (and parts) and robots.txt into [default: instance/static].")
def generate_sitemap(out: str | None) -> None:
    """Write the same sitemap and robots.txt the site serves, for a static host."""
    from flask import current_app

    from blog.services import sitemap

    folder = out or str(Path(current_app.instance_path) / "static")
    # URLs as the site builds them for a request to SITE_URL (a path prefix included).
    with current_app.test_request_context("/", base_url=current_app.config["SITE_URL"]):
        written = sitemap.write(folder)
    for path in written:
        click.echo(f"Wrote {path}")


@click.command("send-digest")
@click.option("--dry-run", is_flag=True, help="Count who would get it; send and record nothing.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), default=None,
              help="Posts published since this date (site time zone) instead of since the last digest.")
def send_digest(dry_run: bool, since) -> None:
    """Send this week's email digest now (each address at most once a week, however often this runs)."""
    from datetime import UTC

    from blog.services import digest

    start = since.replace(tzinfo=digest.site_zone()).astimezone(UTC).replace(tzinfo=None) if since else None
    started = time.perf_counter()
    with click.progressbar(length=digest.subscriber_count("digest"), label="Digest", show_pos=True) as bar:
        report = digest.send_digest(since=start, dry_run=dry_run, progress=bar.update)
    verb = "Would send" if dry_run else "Queued"
    click.echo(f"{verb} {report.sent} digest mails ({report.posts} posts, week {report.key.split(':')[1]}, "
               f"{report.skipped} subscribers with nothing new) in {time.perf_counter() - started:.1f}s.")


@click.command("clear-cache")
def clear_cache() -> None:
    """Empty the shared cache (every process's cached widgets and pages)."""
    pagecache.clear()
    click.echo("Cache cleared.")


@click.command("recalculate-views")
def recalculate_views() -> None:
    """Recount every post's reads from the per-day counts (idempotent)."""
    from blog.services import viewcounts

    started = time.perf_counter()
    with click.progressbar(length=viewcounts.post_count(), label="Recounting", show_pos=True) as bar:
        changed = viewcounts.recalculate(progress=bar.update)
    click.echo(f"Recounted views: {changed} posts changed in {time.perf_counter() - started:.1f}s.")


def register(app: Flask) -> None:
    """Attach the commands to ``app.cli``."""
    app.cli.add_command(create_admin)
    app.cli.add_command(seed_db)
    app.cli.add_command(reindex)
    app.cli.add_command(generate_sitemap)
    app.cli.add_command(send_digest)
    app.cli.add_command(clear_cache)
    app.cli.add_command(recalculate_views)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(export_posts)
    app.cli.add_command(import_posts)


# --- backup and restore (blog/services/backup.py) ------------------------------------------------



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
