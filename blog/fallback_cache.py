"""A Redis cache that fails soft: with Redis unreachable, reads and writes go to an in-process cache.

Flask-Caching lets a memoised *read* survive a backend error, but ``cache.delete_memoized``,
``cache.get`` and ``cache.set`` raise: a moderation that committed would answer 500 only
because Redis was down while it forgot a sidebar widget. This backend swallows Redis errors,
logs one warning per outage, and serves from a per-process :class:`SimpleCache` until a probe
(at most every ``RETRY_SECONDS``) finds Redis again. Values cached during the outage stay in
that process. Changes made meanwhile could not reach Redis: when it answers again, the
``on_recovery`` callbacks run (the page cache bumps every generation there, so no page or
widget stored before the outage is served again).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask_caching.backends.rediscache import RedisCache
from flask_caching.backends.simplecache import SimpleCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

#: After an error, how long Redis is left alone before it is tried again.
RETRY_SECONDS = 2.0
_READS = frozenset({"get", "get_many", "has"})


class FallbackRedisCache(RedisCache):
    """``RedisCache`` whose every operation falls back to an in-process cache when Redis fails."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fallback = SimpleCache(threshold=2000, default_timeout=self.default_timeout)
        self._down_until = 0.0
        self._down = False
        self._lock = threading.Lock()
        #: Called (no arguments) once Redis answers again after an outage.
        self.on_recovery: list[Callable[[], None]] = []

    @property
    def redis_down(self) -> bool:
        """True while the last Redis call failed (and the fallback serves)."""
        return self._down

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        fallback: Callable[..., Any] = getattr(self._fallback, name)
        if self._down and time.monotonic() < self._down_until:
            return fallback(*args, **kwargs)
        try:
            result = getattr(super(), name)(*args, **kwargs)
        except RedisError as exc:
            with self._lock:
                if not self._down:
                    log.warning("cache: Redis unreachable (%s); using the in-process cache", exc)
                self._down, self._down_until = True, time.monotonic() + RETRY_SECONDS
            return fallback(*args, **kwargs)
        if self._down:
            recovered = False
            with self._lock:
                if self._down:
                    log.warning("cache: Redis is back")
                    self._down = False
                    self._fallback.clear()
                    recovered = True
            if recovered and self.on_recovery:
                for callback in self.on_recovery:
                    try:
                        callback()
                    except Exception:  # Redis gone again: the next recovery tries again
                        log.warning("cache: a recovery step failed", exc_info=True)
                if name in _READS:  # read again: what came back was read before the callbacks ran
                    return self._call(name, *args, **kwargs)
        return result

    def get(self, key: str) -> Any:
        return self._call("get", key)

    def get_many(self, *keys: str) -> list[Any]:
        return self._call("get_many", *keys)

    def get_dict(self, *keys: str) -> dict[str, Any]:
        return dict(zip(keys, self.get_many(*keys), strict=True))

    def set(self, key: str, value: Any, timeout: int | None = None) -> Any:
        return self._call("set", key, value, timeout)

    def add(self, key: str, value: Any, timeout: int | None = None) -> Any:
        return self._call("add", key, value, timeout)

    def set_many(self, mapping: dict[str, Any], timeout: int | None = None) -> Any:
        return self._call("set_many", mapping, timeout)

    def delete(self, key: str) -> Any:
        return self._call("delete", key)

    def delete_many(self, *keys: str) -> Any:
        return self._call("delete_many", *keys)

    def has(self, key: str) -> Any:
        return self._call("has", key)

    def clear(self) -> Any:
        self._fallback.clear()
        return self._call("clear")

    def inc(self, key: str, delta: int = 1) -> Any:
        return self._call("inc", key, delta)

    def dec(self, key: str, delta: int = 1) -> Any:
        return self._call("dec", key, delta)

    def unlink(self, *keys: str) -> Any:
        return self._call("delete_many", *keys)

    def ping(self) -> None:
        """Ask Redis itself (not the fallback) for a PONG; raises when it does not answer."""
        self._read_client.ping()
