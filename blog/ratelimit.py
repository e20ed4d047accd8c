"""Rate-limit counters in a SQLite file that every process on the machine shares.

The embedded stack has no Redis, and Flask-Limiter's ``memory://`` storage counts per process:
with N gunicorn workers an attacker got N times the allowed login attempts. The ``limits``
package ships no SQLite storage, so this is one: fixed-window counters (the only strategy the
app uses), one row per key, each update a single atomic statement, in WAL mode so readers never
wait. Registered for URIs ``sqlite:///<path>`` when this module is imported (blog.extensions does).
"""
from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from pathlib import Path

from limits.storage import Storage

_SCHEMA = ("CREATE TABLE IF NOT EXISTS ratelimit "
           "(key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL) WITHOUT ROWID")
#: Expired rows are deleted now and then (about one write in this many), not on every hit.
PURGE_EVERY = 500


class SQLiteStorage(Storage):
    """A ``limits`` storage on a SQLite database file (``sqlite:///instance/ratelimit.db``)."""

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options) -> None:
        path = uri.removeprefix("sqlite:///")
        if not path or path == ":memory:":
            raise ValueError("SQLiteStorage needs a file (sqlite:///path/to/ratelimit.db): memory is per process.")
        self.path = str(Path(path))
        self.timeout = float(options.get("timeout", 5))
        self._local = threading.local()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and per process (gunicorn forks after the app is built).
        connection = getattr(self._local, "connection", None)
        if connection is None or getattr(self._local, "pid", None) != os.getpid():
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                         check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(_SCHEMA)
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add ``amount`` to ``key``'s counter, starting a new window of ``expiry`` seconds if it ran out."""
        now = time.time()
        connection = self._connection()
        (count,) = connection.execute(
            "INSERT INTO ratelimit (key, count, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET "
            " count = CASE WHEN expires <= ? THEN excluded.count ELSE count + excluded.count END,"
            " expires = CASE WHEN expires <= ? THEN excluded.expires ELSE expires END "
            "RETURNING count",
            (key, amount, now + expiry, now, now),
        ).fetchone()
        if random.randrange(PURGE_EVERY) == 0:
            connection.execute("DELETE FROM ratelimit WHERE expires <= ?", (now,))
        return int(count)

    def get(self, key: str) -> int:
        """The counter of ``key`` in its current window (0 when none)."""
        row = self._connection().execute(
            "SELECT count FROM ratelimit WHERE key = ? AND expires > ?", (key, time.time())).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        """When ``key``'s window ends (now when there is none)."""
        now = time.time()
        row = self._connection().execute(
            "SELECT expires FROM ratelimit WHERE key = ? AND expires > ?", (key, now)).fetchone()
        return float(row[0]) if row else now

    def check(self) -> bool:
        """True when the database answers."""
        try:
            self._connection().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every counter."""
        return self._connection().execute("DELETE FROM ratelimit").rowcount

    def clear(self, key: str) -> None:
        """Forget ``key``'s counter."""
        self._connection().execute("DELETE FROM ratelimit WHERE key = ?", (key,))
