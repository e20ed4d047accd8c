"""`flask backup` / `flask restore`: one archive with the database and the uploads, taken while the site writes.

Each test runs on a SQLite file (WAL, as in production on the embedded stack) and, when
TEST_DATABASE_URL is set, on scratch PostgreSQL databases of its own (created and dropped here,
so the shared test database is never dumped or replaced).
"""
from __future__ import annotations

import os
import secrets
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.engine import make_url

from blog import create_app
from blog.extensions import db
from blog.models import Comment
from blog.models import Post
from blog.services import backup
from config import TestingConfig
from tests.factories import make_comment
from tests.factories import make_post

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL.startswith("postgresql"), reason="TEST_DATABASE_URL is not a PostgreSQL URL"))]
#: The writer's pace: one comment every 50 ms.
WRITES_PER_SECOND = 20


class _Databases:
    """Hands out empty databases of one kind: SQLite files in tmp_path, or scratch PostgreSQL databases."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind, self.tmp_path, self.made = kind, tmp_path, []

    def url(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp_path / f'{name}.db'}"
        import psycopg

        database = f"backup_{name}_{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        self.made.append(database)
        return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.made:
            return
        import psycopg

        with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
            for database in self.made:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _cli(app: Flask, *args: str):
    """Run a flask command as `flask --app wsgi ...` would: inside an app context of ``app``."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _site(url: str, uploads: Path) -> Flask:
    """An app on ``url`` with the schema created (as `db upgrade` would) and its uploads in ``uploads``."""

    class Settings(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url

    app = create_app(Settings)
    app.config["UPLOAD_FOLDER"] = str(uploads)
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture(params=BACKENDS)
def databases(request, tmp_path) -> Iterator[_Databases]:
    made = _Databases(request.param, tmp_path)
    try:
        yield made
    finally:
        made.drop_all()


@pytest.fixture
def source(databases: _Databases, tmp_path: Path) -> Iterator[Flask]:
    app = _site(databases.url("source"), tmp_path / "source-uploads")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def target(databases: _Databases, tmp_path: Path) -> Iterator[Flask]:
    app = _site(databases.url("target"), tmp_path / "target-uploads")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _uploads(root: Path) -> dict[str, bytes]:
    """Some uploaded files, nested like avatars and covers are, with a temporary file of a write in progress."""
    files = {f"avatars/{secrets.token_hex(16)}.png": os.urandom(3000),
             f"avatars/{secrets.token_hex(16)}-256.webp": os.urandom(1200),
             f"covers/{secrets.token_hex(16)}.jpg": os.urandom(50_000),
             f"covers/{secrets.token_hex(16)}-og.jpg": os.urandom(20_000)}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "covers" / ".half-written.jpg.1234.tmp").write_bytes(b"not yet")
    return files


class _Writer(threading.Thread):
    """Adds a comment every 50 ms through the app, as the site would, and records each id once committed."""

    def __init__(self, app: Flask, post_id: int, author_id: int) -> None:
        super().__init__(daemon=True)
        self.app, self.post_id, self.author_id = app, post_id, author_id
        self.committed: list[int] = []
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def run(self) -> None:
        with self.app.app_context():
            n = 0
            while not self.stop.is_set():
                started = time.monotonic()
                n += 1
                try:
                    comment = Comment(post_id=self.post_id, author_id=self.author_id, body=f"comment {n}",
                                      html=f"<p>comment {n}</p>", status="approved")
                    db.session.add(comment)
                    db.session.commit()
                    with self.lock:
                        self.committed.append(comment.id)
                except Exception as exc:  # recorded: the test fails on any write the backup blocked
                    db.session.rollback()
                    self.errors.append(exc)
                self.stop.wait(max(0.0, 1 / WRITES_PER_SECOND - (time.monotonic() - started)))
            db.session.remove()

    def snapshot(self) -> set[int]:
        with self.lock:
            return set(self.committed)


def test_backup_under_concurrent_writes_restores_every_committed_comment_and_upload(source, target, tmp_path):
    with source.app_context():
        post = make_post(title="Busy post")
        make_comment(post, body="The first one.")
        post_id, author_id = post.id, post.author_id
    files = _uploads(Path(source.config["UPLOAD_FOLDER"]))
    archive = tmp_path / "backups" / "site.tar.gz"

    writer = _Writer(source, post_id, author_id)
    writer.start()
    try:
        time.sleep(1.0)
        committed_before = writer.snapshot()
        result = _cli(source, "backup", "--out", str(archive))
        during = writer.snapshot()
        time.sleep(0.5)  # keep writing after the backup too
    finally:
        writer.stop.set()
        writer.join(timeout=10)
    assert result.exit_code == 0, result.output
    assert "Backed up" in result.output and "4 uploaded files" in result.output
    assert not writer.errors, f"writes failed while the backup ran: {writer.errors[:3]}"
    assert len(committed_before) >= 15, "the writer did not reach ~20 comments a second"
    assert len(writer.snapshot()) > len(during) >= len(committed_before)  # the site kept writing throughout

    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json"
    assert not any(name.endswith(".tmp") for name in names), "a half-written upload went into the backup"

    result = _cli(target, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert "Restored the backup" in result.output and "4 uploaded files" in result.output
    with target.app_context():
        restored = set(db.session.scalars(select(Comment.id).where(Comment.post_id == post_id)))
        assert db.session.get(Post, post_id).title == "Busy post"
    missing = committed_before - restored
    assert not missing, f"comments committed before the backup started are missing: {sorted(missing)[:10]}"
    assert restored <= set(writer.committed) | {min(restored)}  # nothing invented (the first comment aside)
    restored_root = Path(target.config["UPLOAD_FOLDER"])
    for name, data in files.items():
        assert (restored_root / name).read_bytes() == data, name


def test_restore_refuses_a_database_with_content_unless_forced(source, target, tmp_path):
    with source.app_context():
        make_post(title="From the backup")
    archive = tmp_path / "site.tar.gz"
    assert _cli(source, "backup", "--out", str(archive)).exit_code == 0
    with target.app_context():
        make_post(title="Already here")

    result = _cli(target, "restore", str(archive))
    assert result.exit_code != 0
    assert "not empty" in result.output and "--force" in result.output
    with target.app_context():
        assert db.session.scalars(select(Post.title)).all() == ["Already here"]  # untouched

    result = _cli(target, "restore", str(archive), "--force")
    assert result.exit_code == 0, result.output
    with target.app_context():
        db.session.remove()
        assert db.session.scalars(select(Post.title)).all() == ["From the backup"]


def test_restore_refuses_a_file_that_is_not_a_backup(target, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"certainly not a tar file")
    result = _cli(target, "restore", str(junk))
    assert result.exit_code != 0 and "not a readable backup archive" in result.output

    not_ours = tmp_path / "other.tar.gz"
    (tmp_path / "notes.txt").write_text("hello")
    with tarfile.open(not_ours, "w:gz") as tar:
        tar.add(tmp_path / "notes.txt", arcname="notes.txt")
    result = _cli(target, "restore", str(not_ours))
    assert result.exit_code != 0 and "not a backup made by `flask backup`" in result.output
    with target.app_context():
        assert db.session.scalar(select(func.count()).select_from(Post)) == 0


def test_restore_refuses_an_archive_with_a_path_outside_the_uploads(source, target, tmp_path):
    archive = tmp_path / "site.tar.gz"
    assert _cli(source, "backup", "--out", str(archive)).exit_code == 0
    evil = tmp_path / "evil.tar.gz"
    (tmp_path / "payload").write_text("owned")
    with tarfile.open(archive) as good, tarfile.open(evil, "w:gz") as bad:
        for member in good.getmembers():
            bad.addfile(member, good.extractfile(member))
        bad.add(tmp_path / "payload", arcname="uploads/../../escaped.txt")
    result = _cli(target, "restore", str(evil))
    assert result.exit_code != 0 and "unsafe path" in result.output
    assert not (tmp_path / "escaped.txt").exists()
    assert not (Path(target.config["UPLOAD_FOLDER"]).parent / "escaped.txt").exists()


def test_backup_of_another_kind_of_database_is_refused(source, tmp_path, databases):
    archive = tmp_path / "site.tar.gz"
    assert _cli(source, "backup", "--out", str(archive)).exit_code == 0
    with tarfile.open(archive) as tar:
        manifest = backup.read_manifest(archive)
        assert manifest["dialect"] == databases.kind
        assert manifest["database"] in tar.getnames()
    forged = tmp_path / "forged.tar.gz"
    other = "postgresql" if databases.kind == "sqlite" else "sqlite"
    (tmp_path / "manifest.json").write_text(
        f'{{"format": 1, "dialect": "{other}", "database": "database.sqlite3", "uploads": 0}}')
    with tarfile.open(forged, "w:gz") as tar:
        tar.add(tmp_path / "manifest.json", arcname="manifest.json")
    result = _cli(source, "restore", str(forged), "--force")
    assert result.exit_code != 0 and f"holds a {other} database" in result.output


@pytest.mark.skipif(not PG_URL.startswith("postgresql"), reason="TEST_DATABASE_URL is not a PostgreSQL URL")
def test_backup_reports_a_failing_pg_dump_and_leaves_no_archive(tmp_path):
    gone = make_url(PG_URL).set(database=f"backup_missing_{os.getpid()}").render_as_string(hide_password=False)

    class Settings(TestingConfig):
        SQLALCHEMY_DATABASE_URI = gone

    app = create_app(Settings)
    archive = tmp_path / "site.tar.gz"
    result = _cli(app, "backup", "--out", str(archive))
    assert result.exit_code != 0 and "pg_dump failed" in result.output
    assert not archive.exists() and not list(tmp_path.glob(".*partial"))
