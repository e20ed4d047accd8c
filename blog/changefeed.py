"""How a process learns, without asking the shared cache, that the page cache changed anywhere.

The page cache keeps a copy of what it read from the shared cache (generations, pages, widget
values) in each process (``services/pagecache.py``'s ``Near``), trusted only while the *epoch*
of this feed stays the same. Every bump of a generation, in any process on any host, announces
itself here right after it is written to the shared cache, which changes every process's epoch:

- ``LocalFeed``: one process (the per-process ``SimpleCache`` of tests and the Redis fallback);
- ``FileFeed``: every process on one machine (the embedded SQLite cache): 16 random bytes in a
  shared memory map of a file beside the cache; reading them costs no system call at all;
- ``RedisFeed``: every process on every host (production): a Redis pub/sub channel. The epoch
  is this process's count of the messages received, read from its subscription socket without
  waiting (one non-blocking poll, no round trip). While the subscription is not confirmed, or
  after it broke, the epoch is ``None`` and nothing local is trusted, so a lost message can
  never leave a process serving an old page: it goes back to asking Redis every time.
"""
from __future__ import annotations

import itertools
import logging
import mmap
import os
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: After the subscription breaks, how long before it is tried again.
RETRY_SECONDS = 1.0


class LocalFeed:
    """One process: every bump happens here, so a counter is the whole story."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._epoch = next(self._counter)

    def epoch(self) -> Any:
        return self._epoch

    def announce(self) -> None:
        self._epoch = next(self._counter)


class FileFeed:
    """Every process on one machine: the epoch is 16 bytes of a memory-mapped file they all share.

    ``announce`` writes 16 new random bytes (unique, so two processes announcing at once can
    never write back a value someone already saw); the write is visible to every process that
    maps the file as soon as it is made, with no system call on the reading side.
    """

    SIZE = 16

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < self.SIZE:
                os.pwrite(fd, os.urandom(self.SIZE), 0)
            self._map = mmap.mmap(fd, self.SIZE)
        finally:
            os.close(fd)  # the map keeps its own reference to the file

    def epoch(self) -> Any:
        return self._map[: self.SIZE]

    def announce(self) -> None:
        self._map[: self.SIZE] = os.urandom(self.SIZE)


class RedisFeed:
    """Every process on every host: a pub/sub channel on the cache's Redis.

    The subscription is made lazily in the process that reads (after gunicorn forks, never
    inherited), and only its confirmation makes the epoch trustworthy. Each message received
    moves the epoch on; so does the process's own ``announce`` (at once, before the echo).
    """

    def __init__(self, client, channel: str) -> None:
        self.client, self.channel = client, channel
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._pubsub = None
        self._confirmed = False
        self._session = 0  # a new subscription never repeats an earlier one's epochs
        self._count = 0
        self._retry_at = 0.0

    def _reset(self) -> None:
        if self._pubsub is not None and self._pid == os.getpid():
            try:
                self._pubsub.close()
            except Exception:  # already broken: nothing to close cleanly
                pass
        self._pubsub, self._confirmed, self._pid = None, False, os.getpid()

    def _drain(self) -> None:
        """Read every message already waiting on the subscription socket, without blocking."""
        while True:
            message = self._pubsub.get_message(timeout=0)
            if message is None:
                return
            if message["type"] == "subscribe":
                self._confirmed = True
            self._count += 1

    def epoch(self) -> Any:
        with self._lock:
            if self._pid != os.getpid():
                self._reset()  # a forked child: the parent's socket is not ours
            try:
                if self._pubsub is None:
                    if time.monotonic() < self._retry_at:
                        return None
                    self._pubsub = self.client.pubsub()
                    self._pubsub.subscribe(self.channel)
                    self._session += 1
                self._drain()
            except Exception as error:
                if self._confirmed:
                    log.warning("page cache: change feed lost (%s); asking Redis on every request", error)
                self._reset()
                self._retry_at = time.monotonic() + RETRY_SECONDS
                return None
            return (self._session, self._count) if self._confirmed else None

    def announce(self) -> None:
        """Tell every process, and return once Redis has written the message to every subscriber.

        Redis writes a command's replies and the messages it publishes when its event loop
        goes idle, so the reply to a PING sent after the PUBLISH's reply comes back only once
        every subscriber's copy is on its socket: a request another process on this host takes
        after this returns sees the change (on other hosts, a network delay later).
        """
        with self._lock:
            self._count += 1  # this process at once
        self.client.publish(self.channel, b"1")
        self.client.ping()
