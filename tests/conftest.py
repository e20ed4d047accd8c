"""Fixtures: a fresh app and empty database per test.

SQLite in memory by default; the real PostgreSQL and Redis when TEST_DATABASE_URL /
TEST_REDIS_URL are set (the CI's second run).
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

os.environ["BLOG_ENV"] = "testing"  # before blog.tasks builds its Huey: immediate, in memory


def _isolate_xdist_worker() -> None:
    """Give each pytest-xdist worker its own PostgreSQL database and Redis db number.

    Every test drops and creates all tables, so two workers sharing one database would
    wipe each other's rows. Runs before ``config`` reads the TEST_* variables.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", ... under xdist only
    if not worker:
        return
    number = int(worker.removeprefix("gw"))
    database_url = os.environ.get("TEST_DATABASE_URL")
    if database_url:
        from sqlalchemy import create_engine
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        url = make_url(database_url)
        name = f"{url.database}_{worker}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        os.environ["TEST_DATABASE_URL"] = url.set(database=name).render_as_string(hide_password=False)
    redis_url = os.environ.get("TEST_REDIS_URL")
    if redis_url:
        base, _, db_number = redis_url.rpartition("/")
        os.environ["TEST_REDIS_URL"] = f"{base}/{(int(db_number or 0) - number) % 16}"


_isolate_xdist_worker()

import pytest
from flask import Flask
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import event

from blog import create_app
from blog.extensions import db
from blog.extensions import limiter
from blog.services import pagecache
from config import TestingConfig


@pytest.fixture
def app(tmp_path) -> Iterator[Flask]:
    """A fresh app with empty tables; mail outbox and uploads in a temporary folder."""
    from blog.tasks import huey

    app = create_app(TestingConfig)
    huey.flush()  # nothing a previous test queued (retries, schedules) may run in this one
    app.config["MAIL_OUTBOX"] = str(tmp_path / "outbox")
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    app.config["IMPORT_FOLDER"] = str(tmp_path / "imports")
    with app.app_context():
        db.drop_all()  # a crashed earlier run on PostgreSQL may have left rows behind
        db.create_all()
        yield app
        db.session.remove()
        if db.engine.dialect.name != "sqlite":
            db.drop_all()
        # Close the pool now: one app (and pool) per test would otherwise pile up idle
        # PostgreSQL connections until "too many clients"; in-memory SQLite goes with its connection.
        db.engine.dispose()
        pagecache.clear()
        limiter.reset()
        huey.flush()


class Client(FlaskClient):
    """A test client whose requests start with no cached login.

    The app fixture keeps one app context pushed, and requests reuse it, so ``g``
    (where Flask-Login caches the current user) would leak from one request into
    the next; on a real server every request has its own.
    """

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = Client
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


class QueryCounter:
    """Counts SQL statements sent to the database while active."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app: Flask):
    """``with count_queries() as q: ...`` then ``q.count``."""

    @contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()

        def before(conn, cursor, statement, *args) -> None:
            counter.statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", before)

    return counting


HX = {"HX-Request": "true"}


# Mail: a real SMTP server in-process, and a reader for the .eml outbox.

import email  # noqa: E402
import email.policy  # noqa: E402
import socket  # noqa: E402
from email.message import EmailMessage  # noqa: E402
from pathlib import Path  # noqa: E402


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_outbox(folder: str | Path) -> list[EmailMessage]:
    """The ``.eml`` files in ``folder``, oldest first, parsed (temporary files are skipped)."""
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(Path(folder).glob("*.eml"))]


class SMTPServer:
    """What the in-process SMTP server received: parsed ``messages``, and ``logins`` as (user, password)."""

    def __init__(self, port: int) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.messages: list[EmailMessage] = []
        self.envelopes: list = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """An aiosmtpd server on a free local port, collecting what it is sent; AUTH accepted without TLS."""
    from aiosmtpd.controller import Controller

    inbox = SMTPServer(free_port())
    # server_hostname: otherwise aiosmtpd asks the resolver for this machine's FQDN.
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port, server_hostname="localhost",
                            authenticator=inbox.authenticate, auth_require_tls=False, ready_timeout=5)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def two_apps(tmp_path) -> Iterator[tuple[Flask, Flask]]:
    """Two apps (two gunicorn workers' view) on one database and one shared cache: Redis with
    TEST_REDIS_URL, else the embedded SQLite cache in one folder."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:"

    class Shared(TestingConfig):
        PAGE_CACHE = True
        SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'shared.db'}"
        CACHE_KEY_PREFIX = prefix
        VIEWS_BUFFER_PATH = str(tmp_path / "views.db")
        if os.environ.get("TEST_REDIS_URL"):
            CACHE_TYPE, CACHE_REDIS_URL = "RedisCache", os.environ["TEST_REDIS_URL"]
        else:
            CACHE_TYPE, CACHE_DIR = "blog.sqlitecache.SQLiteCache", str(tmp_path / "cache")

    first, second = create_app(Shared), create_app(Shared)
    with first.app_context():
        db.drop_all()
        db.create_all()
    yield first, second
    for each in (first, second):
        with each.app_context():
            pagecache.clear()
            if each is first:
                db.drop_all()
            db.engine.dispose()
