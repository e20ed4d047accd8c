"""A cache in one SQLite file that every process on the machine shares: the embedded default.

Flask-Caching's FileSystemCache shares too, but costs a file open, a read and two unpickles
per key (four per cached page: three generations and the page); here ``get_many`` is one
indexed SELECT on a WAL database the OS keeps in memory. Nothing in a cache must survive a
power cut, so commits do not wait for the disk. Production uses Redis instead.
"""
from __future__ import annotations

import os
import pickle
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask
from flask_caching.backends.base import BaseCache

#: Expired rows are swept every this many writes (and when a table passes the threshold).
_SWEEP_EVERY = 500


class SQLiteCache(BaseCache):
    """cachelib's interface over ``CREATE TABLE cache (key PRIMARY KEY, value BLOB, expires REAL)``."""

    def __init__(self, path: str, default_timeout: int = 300, threshold: int = 20_000) -> None:
        super().__init__(default_timeout=default_timeout)
        self.path, self.threshold = path, threshold
        self._local = threading.local()
        self._writes = 0
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db().execute("CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value BLOB NOT NULL, "
                           "expires REAL NOT NULL)")

    @classmethod
    def factory(cls, app: Flask, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> SQLiteCache:
        return cls(str(Path(config["CACHE_DIR"]) / "cache.db"), default_timeout=config["CACHE_DEFAULT_TIMEOUT"],
                   threshold=config.get("CACHE_THRESHOLD") or 20_000)

    def _db(self) -> sqlite3.Connection:
        # One connection per thread and per process (a forked gunicorn worker must not reuse its parent's).
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")
            local.connection, local.pid = connection, os.getpid()
        return local.connection

    def _expires(self, timeout: int | None) -> float:
        timeout = self._normalize_timeout(timeout)
        return 0.0 if timeout == 0 else time.time() + timeout

    def get(self, key: str) -> Any:
        row = self._db().execute("SELECT value, expires FROM cache WHERE key = ?", (key,)).fetchone()
        if row is None or (row[1] and row[1] < time.time()):
            return None
        return pickle.loads(row[0])

    def get_many(self, *keys: str) -> list[Any]:
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        now = time.time()
        found = {key: value for key, value, expires in self._db().execute(
            f"SELECT key, value, expires FROM cache WHERE key IN ({marks})", keys) if not expires or expires >= now}
        return [pickle.loads(found[key]) if key in found else None for key in keys]

    def set(self, key: str, value: Any, timeout: int | None = None) -> bool:
        return self.set_many({key: value}, timeout) == [key]

    def set_many(self, mapping: dict[str, Any], timeout: int | None = None) -> list[Any]:
        expires = self._expires(timeout)
        rows = [(key, pickle.dumps(value, pickle.HIGHEST_PROTOCOL), expires) for key, value in mapping.items()]
        db = self._db()
        db.executemany("INSERT OR REPLACE INTO cache (key, value, expires) VALUES (?, ?, ?)", rows)
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            self._sweep(db)
        return list(mapping)

    def _sweep(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM cache WHERE expires != 0 AND expires < ?", (time.time(),))
        extra = db.execute("SELECT count(*) FROM cache").fetchone()[0] - self.threshold
        if extra > 0:  # the soonest to expire go first; never the generations (expires = 0)
            db.execute("DELETE FROM cache WHERE key IN (SELECT key FROM cache WHERE expires != 0 "
                       "ORDER BY expires LIMIT ?)", (extra,))

    def add(self, key: str, value: Any, timeout: int | None = None) -> bool:
        if self.has(key):
            return False
        return self.set(key, value, timeout)

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def delete(self, key: str) -> bool:
        return self._db().execute("DELETE FROM cache WHERE key = ?", (key,)).rowcount > 0

    def delete_many(self, *keys: str) -> list[Any]:
        for key in keys:
            self.delete(key)
        return list(keys)

    def clear(self) -> bool:
        self._db().execute("DELETE FROM cache")
        return True
