"""Buffered view counts: a page read never writes to the database.

A read adds one to a counter in this process's memory; about once a second (and when the
process exits, e.g. a gunicorn worker on a graceful restart) the counters are added to a buffer
every process shares: a Redis hash when the cache is Redis, else a small SQLite file of its own
(``VIEWS_BUFFER_PATH``, not the blog's database, so its lock is never taken by a read). The
``flush_view_counts`` task moves the buffer into ``posts.views`` every minute in one UPDATE,
and into the post's row for the day (``post_view_days``): the dashboard's chart, and the source
of truth ``recalculate`` (``flask recalculate-views``) totals again, idempotently.
"""
from __future__ import annotations

import atexit
import sqlite3
import threading
from collections import Counter

from collections.abc import Callable
from datetime import date

from flask import Flask
from flask import current_app
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from blog.extensions import cache
from blog.extensions import db
from blog.models import Post
from blog.models import PostViewDay
from blog.models import utcnow
from blog.services import pagecache

#: How long counts wait in a process's memory before they go to the shared buffer.
SPOOL_SECONDS = 1.0
_CHUNK = 500


class _RedisStore:
    def __init__(self, client, prefix: str) -> None:
        self.client, self.pending, self.flushing = client, f"{prefix}views:pending", f"{prefix}views:flushing"

    def add(self, counts: Counter) -> None:
        pipe = self.client.pipeline(transaction=False)
        for post_id, n in counts.items():
            pipe.hincrby(self.pending, str(post_id), n)
        pipe.execute()

    def take(self) -> dict[int, int]:
        # A batch left by a flush that failed half-way goes first; then the live hash, renamed away
        # atomically so counts arriving meanwhile start a new one.
        if not self.client.exists(self.flushing):
            try:
                if not self.client.renamenx(self.pending, self.flushing):
                    return {}
            except Exception as error:  # no such key: nothing was counted
                if "no such key" in str(error).lower():
                    return {}
                raise
        return {int(k): int(v) for k, v in self.client.hgetall(self.flushing).items()}

    def done(self) -> None:
        self.client.delete(self.flushing)


class _SqliteStore:
    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
        self.lock = threading.Lock()
        with self.lock:
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            self.connection.execute("CREATE TABLE IF NOT EXISTS pending (post_id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")

    def add(self, counts: Counter) -> None:
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                self.connection.executemany(
                    "INSERT INTO pending (post_id, n) VALUES (?, ?) ON CONFLICT (post_id) DO UPDATE SET n = n + excluded.n",
                    list(counts.items()))
                self.connection.execute("COMMIT")
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise

    def take(self) -> dict[int, int]:
        with self.lock:
            return dict(self.connection.execute("SELECT post_id, n FROM pending").fetchall())

    def done(self, taken: dict[int, int]) -> None:
        # Subtract what was applied (not DELETE): counts added since ``take`` stay.
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            self.connection.executemany("UPDATE pending SET n = n - ? WHERE post_id = ?",
                                        [(n, post_id) for post_id, n in taken.items()])
            self.connection.execute("DELETE FROM pending WHERE n <= 0")
            self.connection.execute("COMMIT")


class ViewBuffer:
    """One app's counters in this process, and the shared buffer behind them."""

    def __init__(self, app: Flask) -> None:
        backend = getattr(cache, "cache", None)
        if type(backend).__name__ == "RedisCache":
            self.store: _RedisStore | _SqliteStore = _RedisStore(backend._write_client, backend.key_prefix or "")
        else:
            self.store = _SqliteStore(app.config["VIEWS_BUFFER_PATH"])
        self.immediate = app.testing  # tests see the shared buffer at once, no timer thread
        self.local: Counter = Counter()
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None
        self.logger = app.logger
        atexit.register(self.spool)

    def add(self, post_id: int) -> None:
        with self.lock:
            self.local[post_id] += 1
            if self.immediate or self.timer is not None:
                start = False
            else:
                self.timer = threading.Timer(SPOOL_SECONDS, self.spool)
                self.timer.daemon = True
                start = True
        if self.immediate:
            self.spool()
        elif start:
            self.timer.start()  # type: ignore[union-attr]

    def spool(self) -> None:
        """Add this process's counts to the shared buffer (kept for the next try if it is down)."""
        with self.lock:
            counts, self.local, self.timer = self.local, Counter(), None
        if not counts:
            return
        try:
            self.store.add(counts)
        except Exception:
            self.logger.exception("view counts not buffered yet; kept in memory")
            with self.lock:
                self.local.update(counts)


def buffer_for(app: Flask) -> ViewBuffer:
    """``app``'s counters in this process (made on first use; no app context needed after that)."""
    buffer = app.extensions.get("view_buffer")
    if buffer is None:
        with app.app_context():  # the store follows the app's cache backend
            buffer = app.extensions.setdefault("view_buffer", ViewBuffer(app))
    return buffer


def _buffer() -> ViewBuffer:
    return buffer_for(current_app._get_current_object())


def add(post_id: int, app: Flask | None = None) -> None:
    """Count one read of post ``post_id`` (no database write); ``app`` outside an app context."""
    (_buffer() if app is None else buffer_for(app)).add(post_id)


def flush() -> int:
    """Move the buffered counts into ``posts.views`` (one UPDATE per 500 posts); returns the views added."""
    buffer = _buffer()
    buffer.spool()
    taken = buffer.store.take()
    if not taken:
        return 0
    ids = sorted(taken)
    try:
        for start in range(0, len(ids), _CHUNK):
            chunk = {post_id: taken[post_id] for post_id in ids[start:start + _CHUNK]}
            db.session.execute(update(Post).where(Post.id.in_(chunk))
                               .values(views=Post.views + case(chunk, value=Post.id, else_=0)),
                               execution_options={pagecache.QUIET: True})
            tally_many(chunk)
        db.session.commit()
    except BaseException:
        db.session.rollback()  # the buffer keeps them for the next run
        raise
    if isinstance(buffer.store, _RedisStore):
        buffer.store.done()
    else:
        buffer.store.done(taken)
    return sum(taken.values())


# --- the per-day rows: the source of truth for the totals ------------------------------------

_BATCH = 1000


def tally_many(counts: dict[int, int], day: date | None = None) -> None:
    """Add each post's reads to its row for ``day`` (today) in one upsert; posts deleted meanwhile are skipped."""
    existing = set(db.session.scalars(select(Post.id).where(Post.id.in_(counts))))
    rows = [{"post_id": post_id, "day": day or utcnow().date(), "views": reads}
            for post_id, reads in counts.items() if post_id in existing and reads]
    if not rows:
        return
    dialect = sqlite if db.engine.dialect.name == "sqlite" else postgresql
    statement = dialect.insert(PostViewDay).values(rows)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=[PostViewDay.post_id, PostViewDay.day], set_={"views": PostViewDay.views + statement.excluded.views}),
        execution_options={pagecache.QUIET: True})


def tally(post_id: int, day: date | None = None, reads: int = 1) -> None:
    """Add ``reads`` to the row of ``post_id`` for ``day`` (today): one atomic upsert; the caller commits.

    The same rows feed the dashboard's views chart and the week's most-read posts.
    """
    dialect = sqlite if db.engine.dialect.name == "sqlite" else postgresql
    statement = dialect.insert(PostViewDay).values(post_id=post_id, day=day or utcnow().date(), views=reads)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=[PostViewDay.post_id, PostViewDay.day], set_={"views": PostViewDay.views + reads}))


def recalculate(progress: Callable[[int], None] | None = None) -> int:
    """Set every post's ``views`` to the sum of its day rows; how many posts changed.

    A post counted before day rows existed (a total but no rows at all) first gets one row with that
    total on its publication day, so its history is kept rather than zeroed.
    """
    flush()  # reads still in the shared buffer count too
    counted = select(PostViewDay.post_id).where(PostViewDay.post_id == Post.id).exists()
    db.session.execute(insert(PostViewDay).from_select(
        ["post_id", "day", "views"],
        select(Post.id, func.date(func.coalesce(Post.published_at, Post.created_at)), Post.views)
        .where(Post.views > 0, ~counted)))
    db.session.commit()
    changed, after = 0, 0
    while True:
        ids = list(db.session.scalars(select(Post.id).where(Post.id > after).order_by(Post.id).limit(_BATCH)))
        if not ids:
            return changed
        total = (select(func.coalesce(func.sum(PostViewDay.views), 0)).where(PostViewDay.post_id == Post.id)
                 .scalar_subquery())
        result = db.session.execute(update(Post).where(Post.id.in_(ids), Post.views != total).values(views=total)
                                    .execution_options(synchronize_session=False))
        db.session.commit()
        changed += result.rowcount or 0
        if progress:
            progress(len(ids))
        after = ids[-1]


def post_count() -> int:
    """How many posts there are (for progress bars)."""
    return db.session.scalar(select(func.count()).select_from(Post)) or 0
