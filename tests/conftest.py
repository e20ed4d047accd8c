"""Fixtures: a fresh app and empty database per test.

SQLite in memory by default; the real PostgreSQL and Redis when TEST_DATABASE_URL /
TEST_REDIS_URL are set (the CI's second run).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

os.environ["BLOG_ENV"] = "testing"  # before blog.tasks builds its Huey: immediate, in memory

import pytest
from flask import Flask
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import event

from blog import create_app
from blog.extensions import cache
from blog.extensions import db
from blog.extensions import limiter
from config import TestingConfig


@pytest.fixture
def app() -> Iterator[Flask]:
    """A fresh app with empty tables."""
    app = create_app(TestingConfig)
    with app.app_context():
        db.drop_all()  # a crashed earlier run on PostgreSQL may have left rows behind
        db.create_all()
        yield app
        db.session.remove()
        if db.engine.dialect.name == "sqlite":
            db.engine.dispose()  # the in-memory database goes with its connection
        else:
            db.drop_all()
        cache.clear()
        limiter.reset()


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
