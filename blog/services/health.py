"""Reachability of the run-time pieces, for /healthz."""
from __future__ import annotations

import logging
import uuid

from sqlalchemy import text

from blog.extensions import cache
from blog.extensions import db

log = logging.getLogger(__name__)


def _database() -> None:
    db.session.execute(text("SELECT 1"))


def _cache() -> None:
    backend = cache.cache
    if hasattr(backend, "ping"):  # the fail-soft Redis cache answers from memory when Redis is down
        backend.ping()
        return
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    value = cache.get(key)
    cache.delete(key)
    # NullCache (testing) stores nothing; any other backend must echo what it was given.
    if value != "1" and cache.config.get("CACHE_TYPE") not in ("NullCache", "null"):
        raise RuntimeError("cache did not return the value it was given")


def _queue() -> None:
    from blog.tasks import huey

    huey.pending_count()


def check_all() -> dict[str, str]:
    """``{"database": "ok" | "error", "cache": ..., "queue": ...}``; a failed part is logged by name."""
    results = {}
    for name, probe in (("database", _database), ("cache", _cache), ("queue", _queue)):
        try:
            probe()
            results[name] = "ok"
        except Exception:  # a health check reports failures, it does not raise them
            log.exception("health check %s failed", name)
            results[name] = "error"
            if name == "database":
                db.session.rollback()
    return results
