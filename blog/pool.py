"""Pooled PostgreSQL connections checked before use, without a round trip each time.

``pool_pre_ping`` sends ``SELECT 1`` at every checkout: a round trip per request (on the post
page ~0.1 ms of the app's CPU and some of the server's). A server that restarts, or ends a
backend (``pg_terminate_backend``, an idle timeout), tells the client: it sends a FATAL notice
and closes the socket, so an idle connection with anything to read is stale. That costs one
``select()`` with no wait. A connection idle longer than ``FULL_CHECK_AFTER`` (where a silent
network drop could hide) still gets the full ``SELECT 1``. A stale one is replaced before the
request sees it, as with ``pool_pre_ping``: only requests made while the server is down fail.
"""
from __future__ import annotations

import select
import time

from sqlalchemy import event
from sqlalchemy import exc
from sqlalchemy.engine import Engine

#: Seconds a connection may sit in the pool before its checkout pings the server.
FULL_CHECK_AFTER = 10.0


def has_pending_input(dbapi_connection) -> bool:
    """True when the server sent something to this idle connection (a FATAL notice, or EOF)."""
    pgconn = dbapi_connection.pgconn
    readable, _, _ = select.select([pgconn.socket], [], [], 0)
    return bool(readable)


def _ping(dbapi_connection) -> None:
    # In autocommit, as SQLAlchemy's own ping does: outside it the SELECT opens a transaction that
    # the request would inherit, and psycopg refuses to switch a connection in a transaction to
    # autocommit (a guest's read does: rendering.read_without_transaction).
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.execute("SELECT 1")
    finally:
        dbapi_connection.autocommit = autocommit


def check_on_checkout(engine: Engine) -> None:
    """Replace stale connections of ``engine`` (psycopg) at checkout; see the module's docstring."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection, record) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, proxy) -> None:
        try:
            if dbapi_connection.closed or dbapi_connection.broken:
                raise exc.DisconnectionError("connection closed")
            idle = time.monotonic() - record.info.get("checked_in", 0.0)
            if idle > FULL_CHECK_AFTER or has_pending_input(dbapi_connection):
                _ping(dbapi_connection)  # a stray notice passes; a closed backend raises
        except exc.DisconnectionError:
            raise
        except Exception as error:  # the pool discards this connection and tries a fresh one
            raise exc.DisconnectionError(str(error)) from error
