"""PostgreSQL connections are checked at checkout without a round trip while they look healthy
(blog/pool.py): a killed backend is seen on its socket, a long-idle one is pinged."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

from blog import pool

URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not URL.startswith("postgresql"), reason="needs PostgreSQL (TEST_DATABASE_URL)")


@pytest.fixture
def engine(monkeypatch):
    engine = create_engine(URL, pool_size=1, max_overflow=0)
    pool.check_on_checkout(engine)
    pings = []
    real_ping = pool._ping
    monkeypatch.setattr(pool, "_ping", lambda dbapi_connection: (pings.append(1), real_ping(dbapi_connection)))
    engine.pings = pings
    yield engine
    engine.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_recently_used_connection_is_handed_out_without_a_ping(engine):
    first = _backend_pid(engine)
    engine.pings.clear()
    assert _backend_pid(engine) == first  # the same pooled connection
    assert engine.pings == []


def test_a_killed_backend_is_replaced_before_use(engine):
    victim = _backend_pid(engine)
    admin = create_engine(URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim}).scalar_one()
        # Terminated means gone: wait until the backend has left (its FATAL notice is then on the socket).
        for _ in range(200):
            if not conn.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": victim}).first():
                break
    admin.dispose()
    assert _backend_pid(engine) != victim  # no error: a fresh connection answered
    assert engine.pings  # the socket said something, so the old one was pinged (and failed)


def test_a_long_idle_connection_is_pinged(engine, monkeypatch):
    _backend_pid(engine)
    monkeypatch.setattr(pool, "FULL_CHECK_AFTER", -1.0)
    engine.pings.clear()
    _backend_pid(engine)
    assert engine.pings == [1]


def test_a_ping_leaves_the_connection_out_of_a_transaction(engine, monkeypatch):
    _backend_pid(engine)
    monkeypatch.setattr(pool, "FULL_CHECK_AFTER", -1.0)
    engine.pings.clear()
    with engine.connect() as conn:
        assert engine.pings == [1]
        # A guest's reading page switches its connection to autocommit (rendering.read_without_transaction);
        # psycopg refuses that inside a transaction, which the ping's SELECT 1 had opened: a 500 on the
        # first guest page after ten idle seconds.
        conn.execution_options(isolation_level="AUTOCOMMIT")
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
