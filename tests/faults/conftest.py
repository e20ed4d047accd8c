"""Fault tests: real servers, real threads, real queues.

``live_app`` is an app on a database several threads can share: the suite's PostgreSQL when
TEST_DATABASE_URL is set, else a SQLite file (WAL, busy timeout) in a temporary folder. The
servers a test breaks on purpose (Redis, PostgreSQL) are its own, started here on a free port;
a test whose binaries are missing is skipped.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask
from flask import g
from flask import has_app_context
from flask.testing import FlaskClient

from blog import create_app
from blog.extensions import db
from config import TestingConfig
from tests.conftest import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class Client(FlaskClient):
    """A test client that, where the test's app context is shared, forgets the login cached in ``g``."""

    def open(self, *args, **kwargs):
        if has_app_context():
            g.pop("_login_user", None)
        return super().open(*args, **kwargs)


def make_live_app(tmp_path: Path, **settings) -> Flask:
    """An app whose database outlives one connection: PostgreSQL (TEST_DATABASE_URL) or a SQLite file."""
    url = settings.pop("SQLALCHEMY_DATABASE_URI", None) or os.environ.get("TEST_DATABASE_URL") \
        or f"sqlite:///{tmp_path / 'live.db'}"
    attributes = {"SQLALCHEMY_DATABASE_URI": url, "MAIL_OUTBOX": str(tmp_path / "outbox"),
                  "UPLOAD_FOLDER": str(tmp_path / "uploads"), "HUEY_SQLITE_PATH": str(tmp_path / "huey.db")}
    attributes.update(settings)
    config = type("LiveConfig", (TestingConfig,), attributes)
    app = create_app(config)
    app.test_client_class = Client  # no login cached in ``g`` from one request to the next
    return app


@pytest.fixture
def live_app(tmp_path) -> Iterator[Flask]:
    """See the module docstring; empty tables, queue immediate (in memory) as in the rest of the suite."""
    app = make_live_app(tmp_path)
    with app.app_context():
        db.drop_all()
        db.create_all()
        yield app
        db.session.remove()
        if db.engine.dialect.name != "sqlite":
            db.drop_all()
        db.engine.dispose()


def at_once(count: int, call: Callable[[int], object]) -> list:
    """Run ``call(0) … call(count - 1)`` in ``count`` threads that start together; their results."""
    import threading

    barrier = threading.Barrier(count)

    def run(n: int):
        barrier.wait(timeout=30)
        return call(n)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


class RedisServer:
    """A throwaway ``redis-server`` on its own port, which tests stop and start again."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    """Our own Redis (not the shared one: stopping that would break the other runs)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
