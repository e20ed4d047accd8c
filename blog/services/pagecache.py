"""The shared page cache: generation counters, stored responses and memoised widgets.

Every cached thing (a whole anonymous response, a sidebar widget) is stored under a key that
includes the current *generation* of each content area it depends on. A change bumps those
generations in the shared cache (Redis in production, a file cache in ``instance/`` on one
machine) right after its transaction commits, so every process and host computes new keys at
once and the old entries are never read again (they expire on their own).

Areas:

- ``site``: everything (people's names and accounts appear on every page);
- ``listings``: lists of posts, search, feeds, the sitemap and the sidebar widgets;
- ``taxonomy``: category and tag names, shown on post pages too;
- ``post:<slug>``: one post's page and its comment thread;
- ``neighbours``: which published posts there are, their titles and order: the previous/next,
  related and "more from" links on every post page (not bumped by comments, unlike ``listings``).

Each process keeps a copy of what it read (``Near``): the generations, pages and widget values,
trusted only while the change feed's epoch stands (``blog/changefeed.py``). A bump anywhere
moves every process's epoch, so a cache hit costs no round trip to the shared cache at all,
and an invalidation is still seen by the next request on every process.

The bumps come from SQLAlchemy session events, so every writer (views, API, admin, CLI, the
worker) invalidates without having to remember to: a flush that inserts, changes or deletes a
post, comment, category, tag or user records the areas it touches; the commit bumps them; a
rollback forgets them.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import Flask
from flask import current_app
from sqlalchemy import event
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import SessionTransaction

from blog import changefeed
from blog import current
from blog.extensions import cache

#: ``session.info`` key: areas touched by the open transaction, bumped when it commits.
PENDING = "pagecache_areas"
_MEMO = "blog.pagecache.generations"
#: The change feed's epoch as this request first read it (see ``_epoch``).
_EPOCH = "blog.pagecache.epoch"
#: What every page key depends on.
SITE = "site"
LISTINGS = "listings"
TAXONOMY = "taxonomy"
NEIGHBOURS = "neighbours"
#: The header menu's links to static pages (services.pages.nav_pages).
NAV = "nav"
#: A published post's columns that other posts' pages show (links to it, their order, related by tags).
_LINKED = ("title", "slug", "status", "published_at", "kind", "author_id", "tags")
#: A page's columns the header menu shows (a link to it, its place, whether it is there at all).
_IN_MENU = ("title", "slug", "status", "kind", "nav_order")


def post_area(slug: str) -> str:
    """The area of one post's page (and its comment thread fragments)."""
    return f"post:{slug}"


# --- this process's copies -----------------------------------------------------------------

class Near:
    """What this process read from the shared cache, kept while the change feed's epoch stands.

    Generations, pages and widget values, at most ``max_bytes`` of them (least recently used go
    first) and none older than ``max_age`` seconds. ``epoch()`` is read before each read of the
    shared cache, and a copy is kept only under the epoch read before it was fetched: a bump
    that lands in between moves the epoch, so that copy is never used (see ``keep``).
    """

    def __init__(self, feed, max_bytes: int = 16 << 20, max_age: float = 10.0) -> None:
        self.feed, self.max_bytes, self.max_age = feed, max_bytes, max_age
        self._lock = threading.Lock()
        self._epoch: Any = None
        self._items: OrderedDict[str, tuple[Any, int, float]] = OrderedDict()
        self._bytes = 0

    def epoch(self) -> Any:
        """The feed's epoch now (None: trust nothing local); a new one drops every copy."""
        try:
            epoch = self.feed.epoch()
        except Exception:  # a feed that cannot answer is a feed that cannot be trusted
            epoch = None
        if epoch != self._epoch or epoch is None:
            with self._lock:
                if epoch != self._epoch or epoch is None:
                    self._items.clear()
                    self._bytes, self._epoch = 0, epoch
        return epoch

    def get(self, key: str, epoch: Any) -> Any:
        """The copy of ``key`` kept under ``epoch``, or None."""
        if epoch is None or epoch != self._epoch:
            return None
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if time.monotonic() - item[2] > self.max_age:
                self._drop(key)
                return None
            self._items.move_to_end(key)
            return item[0]

    def tokens(self, areas: Iterable[str], epoch: Any) -> dict[str, str]:
        """The generation tokens of ``areas`` kept here under ``epoch`` (those known; maybe none)."""
        found = {area: self.get(_gen_key(area), epoch) for area in areas}
        return {area: token for area, token in found.items() if token is not None}

    def keep(self, epoch: Any, values: dict[str, Any]) -> None:
        """Keep ``values`` (read from the shared cache after ``epoch`` was read), if it still stands."""
        if epoch is None:
            return
        now = time.monotonic()
        with self._lock:
            if epoch != self._epoch:
                return
            for key, value in values.items():
                if value is None:
                    continue
                self._drop(key)
                size = _size(value)
                if size > self.max_bytes // 8:
                    continue
                self._items[key] = (value, size, now)
                self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                self._drop(next(iter(self._items)))

    def _drop(self, key: str) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self._bytes -= item[1]

    def announce(self) -> None:
        """A bump was written to the shared cache: move every process's epoch on."""
        try:
            self.feed.announce()
        except Exception:  # Redis gone: every subscriber has lost its feed too, and trusts nothing local
            current_app.logger.warning("page cache: could not announce a change", exc_info=True)
        self.epoch()


def _size(value: Any) -> int:
    if isinstance(value, Entry):
        return len(value.body) + 1024
    if isinstance(value, (str, bytes)):
        return len(value) + 64
    return sys.getsizeof(value) + 512


def make_feed(app: Flask):
    """The change feed that reaches every process sharing this app's cache backend."""
    backend = app.extensions["cache"][cache]
    kind = type(backend).__name__
    prefix = app.config.get("CACHE_KEY_PREFIX") or ""
    if "Redis" in kind:
        return changefeed.RedisFeed(backend._write_client, f"{prefix}pagecache:changes")
    if app.config.get("CACHE_DIR") and kind in ("SQLiteCache", "FileSystemCache"):
        return changefeed.FileFeed(os.path.join(app.config["CACHE_DIR"], f"{prefix or 'blog'}.changes"))
    return changefeed.LocalFeed()


def init_app(app: Flask) -> None:
    """Give ``app`` its process-local tier (``NEAR_CACHE_BYTES`` 0 turns it off)."""
    size = app.config["NEAR_CACHE_BYTES"]
    app.extensions["pagecache.near"] = (
        Near(make_feed(app), max_bytes=size, max_age=app.config["NEAR_CACHE_SECONDS"]) if size else None)
    backend = app.extensions["cache"][cache]
    if hasattr(backend, "on_recovery"):
        # Bumps made while Redis was unreachable never reached it: after an outage everything
        # stored before it is suspect, so every page and widget starts a new generation.
        def forget_everything() -> None:
            with app.app_context():
                bump(SITE)

        backend.on_recovery.append(forget_everything)


def _near() -> Near | None:
    return current.app().extensions.get("pagecache.near")


def _epoch(near: Near) -> Any:
    """``near``'s epoch, read once per request: on Redis each read polls the subscription socket (a
    system call), and a post page reads it five times. A request's reads then all belong to one
    moment of the feed, as its generations do (memoised the same way); a bump made by this request
    forgets it (``announce``), so its own later reads trust nothing kept under the old epoch."""
    environ = current.environ()
    if environ is None:
        return near.epoch()
    if _EPOCH not in environ:
        environ[_EPOCH] = near.epoch()
    return environ[_EPOCH]


# --- generations --------------------------------------------------------------------------

def _gen_key(area: str) -> str:
    return f"gen:{area}"


def _new_token() -> str:
    # Unique, not incremented: two processes bumping at once can never write the same value
    # (a lost increment would leave a page rendered before the second change under a live key).
    # The leading nanosecond clock doubles as "last changed" for Last-Modified.
    return f"{time.time_ns():x}.{os.urandom(4).hex()}"


def generations(areas: Iterable[str]) -> dict[str, str]:
    """The current token of each area (this process's copies, else one round trip; memoised for
    the rest of the request).

    An area with no token yet (never bumped, or evicted) gets a new one: entries keyed on the
    lost token are orphaned, never served stale.
    """
    areas = list(dict.fromkeys(areas))
    # Per request (in its WSGI environ: ``g`` lives as long as the app context, which may span requests).
    environ = current.environ()
    known: dict[str, str] = environ.setdefault(_MEMO, {}) if environ is not None else {}
    missing = [area for area in areas if area not in known]
    near = _near() if missing else None
    epoch = _epoch(near) if near is not None else None
    if near is not None:
        known.update(near.tokens(missing, epoch))
        missing = [area for area in missing if area not in known]
    if missing:
        values = cache.get_many(*(_gen_key(area) for area in missing))
        fresh = {}
        for area, value in zip(missing, values):
            if value is None:
                value = fresh[_gen_key(area)] = _new_token()
            known[area] = value
        if fresh:
            cache.set_many(fresh, timeout=0)
        if near is not None:  # only what was read: a token made here may lose to another process's
            near.keep(epoch, {_gen_key(area): value for area, value in zip(missing, values)})
    return {area: known[area] for area in areas}


def bump(*areas: str) -> None:
    """Give each area a new generation now: every page and widget depending on it is fresh everywhere."""
    if not areas:
        return
    environ = current.environ()
    if environ is not None:
        environ.pop(_MEMO, None)
    try:
        cache.set_many({_gen_key(area): _new_token() for area in dict.fromkeys(areas)}, timeout=0)
        announce()
    except Exception:  # called after a commit: the change stands; the pages expire within PAGE_CACHE_TIMEOUT
        current_app.logger.exception("could not bump page-cache generations %s", sorted(areas))


def announce() -> None:
    """Tell every process the shared cache changed (after ``bump`` or a ``clear``): their copies go."""
    environ = current.environ()
    if environ is not None:
        environ.pop(_EPOCH, None)
    near = _near()
    if near is not None:
        near.announce()


def clear() -> None:
    """Empty the shared cache (pages, widgets, generations) and every process's copies of it."""
    cache.clear()
    announce()


def changed_at(tokens: Iterable[str]) -> float:
    """Seconds since the epoch of the newest change among ``tokens`` (0 when none parse)."""
    newest = 0
    for token in tokens:
        try:
            newest = max(newest, int(token.partition(".")[0], 16))
        except ValueError:
            continue
    return newest / 1e9


def invalidate(*areas: str) -> None:
    """Bump ``areas`` when the current transaction commits (at once when none is open)."""
    from blog.extensions import db

    session = db.session()
    if session.in_transaction() and (session.new or session.dirty or session.deleted
                                     or session.info.get(PENDING)):
        session.info.setdefault(PENDING, set()).update(areas)
    else:
        bump(*areas)


# --- stored responses ---------------------------------------------------------------------

@dataclass
class Entry:
    """One stored response: the gzipped body and what is needed to answer again without the view."""

    body: bytes  # gzip
    status: int
    headers: list[tuple[str, str]]
    etag: str
    last_modified: float
    #: A post whose page this is: a cache hit still counts a view of it.
    post_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def page_key(url: str, variant: Iterable[str], gens: dict[str, str] | None = None) -> str:
    """The key for ``url`` as seen with the htmx header values ``variant``.

    The generations are not part of the key: they are stored in the entry (``extra["gens"]``)
    and compared on the way out (``lookup``), so one round trip fetches the entry and the
    current generations together. ``gens`` is accepted for callers of the older signature.
    """
    digest = hashlib.blake2b("\n".join([url, *variant]).encode(), digest_size=16).hexdigest()
    return f"page:{digest}"


def lookup(url: str, variant: Iterable[str], areas: Iterable[str], environ: dict | None = None, *,
           backend=None, near: Near | None = None) -> tuple[str, dict[str, str], Entry | None]:
    """(key, current generations, the stored entry if it was rendered under exactly those).

    From this process's copies when the change feed's epoch stands (no round trip), else in
    ONE cache round trip (an MGET of the entry and the areas' tokens).

    An entry rendered before any of its areas changed carries older tokens and is not returned,
    so invalidation stays exact and immediate on every process; a missing token gets a new one,
    as in ``generations``. With ``environ`` the tokens are memoised for the rest of the request.
    ``backend`` and ``near``: the cache backend and this app's ``Near``, for a caller outside an
    app context (``QuickHits``).
    """
    if backend is None:
        store, near = cache, _near()
    else:
        store = backend
    areas = list(dict.fromkeys(areas))
    key = page_key(url, variant)
    epoch = _epoch(near) if near is not None else None
    gens = near.tokens(areas, epoch) if epoch is not None else {}
    if epoch is not None and len(gens) == len(areas):  # every token known here: at most the entry to fetch
        value = near.get(key, epoch)
        if value is None:
            value = store.get(key)
            if isinstance(value, Entry) and value.extra.get("gens") == gens:
                near.keep(epoch, {key: value})
        if environ is not None:
            environ.setdefault(_MEMO, {}).update(gens)
        if not isinstance(value, Entry) or value.extra.get("gens") != gens:
            return key, gens, None
        return key, gens, value
    value, *tokens = store.get_many(key, *(_gen_key(area) for area in areas))
    gens, fresh = {}, {}
    for area, token in zip(areas, tokens):
        if token is None:
            token = fresh[_gen_key(area)] = _new_token()
        gens[area] = token
    if fresh:
        store.set_many(fresh, timeout=0)
    if environ is not None:
        environ.setdefault(_MEMO, {}).update(gens)
    current = isinstance(value, Entry) and not fresh and value.extra.get("gens") == gens
    if near is not None:
        near.keep(epoch, {**{_gen_key(area): token for area, token in zip(areas, tokens)},
                          key: value if current else None})
    if not current:
        return key, gens, None
    return key, gens, value


def load(key: str) -> Entry | None:
    """The stored response at ``key``, if any (whatever generations it was rendered under)."""
    value = cache.get(key)
    return value if isinstance(value, Entry) else None


def store(key: str, body: bytes, *, status: int, headers: list[tuple[str, str]], etag: str,
          last_modified: float, post_id: int | None = None, keep: bool = True) -> Entry:
    """Store a rendered response (compressed) for ``PAGE_CACHE_TIMEOUT`` seconds (``keep=False``: build it only)."""
    entry = Entry(gzip.compress(body, 6), status, headers, etag, last_modified, post_id)
    if keep:
        save(key, entry)
    return entry


def save(key: str, entry: Entry) -> None:
    """Put ``entry`` in the cache at ``key`` (and keep it in this process)."""
    cache.set(key, entry, timeout=current_app.config["PAGE_CACHE_TIMEOUT"])
    near = _near()
    if near is not None:
        near.keep(_epoch(near), {key: entry})


# --- memoised widgets ---------------------------------------------------------------------

def memoize(*areas: str, timeout: int = 60) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Cache a function's result in the shared cache until ``timeout`` or a change to ``areas``.

    For the sidebar widgets: data, not HTML; arguments become part of the key. This process
    keeps a copy too (``Near``), shared by its requests: callers must not change the value.
    """

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            near = _near()
            try:
                gens = generations([SITE, *areas])
                raw = repr((name, args, sorted(kwargs.items()), list(gens.values())))
                key = "memo:" + hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()
                epoch = _epoch(near) if near is not None else None
                value = near.get(key, epoch) if near is not None else None
                if value is not None:
                    return value
                value = cache.get(key)
            except Exception:  # the cache is down: the widget costs its query, the page still renders
                current_app.logger.warning("cache unavailable for %s", name, exc_info=True)
                return fn(*args, **kwargs)
            if value is None:
                value = fn(*args, **kwargs)
                try:
                    cache.set(key, value, timeout=timeout)
                except Exception:
                    current_app.logger.warning("could not cache %s", name, exc_info=True)
            if near is not None:
                near.keep(epoch, {key: value})
            return value

        wrapper.uncached = fn  # type: ignore[attr-defined]
        return wrapper

    return decorator


# --- what a flush touches -----------------------------------------------------------------

def _history_values(state, attribute: str) -> set:
    history = state.attrs[attribute].history
    return {value for value in (*history.added, *history.deleted, *history.unchanged) if value is not None}


def _areas_for_flush(session: Session) -> set[str]:
    from blog.models import Category
    from blog.models import Comment
    from blog.models import Post
    from blog.models import PostRedirect
    from blog.models import Tag
    from blog.models import User

    areas: set[str] = set()
    post_ids: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Post):
            state = inspect(obj)
            if obj in session.dirty and not state.modified:
                continue
            areas.update(post_area(slug) for slug in _history_values(state, "slug"))
            statuses = _history_values(state, "status")
            if statuses & {"published", "archived"} or obj in session.deleted:
                areas.add(LISTINGS)
            if "published" in statuses and (obj in session.new or obj in session.deleted or any(
                    state.attrs[name].history.has_changes() for name in _LINKED)):
                areas.add(NEIGHBOURS)
            if "page" in _history_values(state, "kind") and (obj in session.new or obj in session.deleted or any(
                    state.attrs[name].history.has_changes() for name in _IN_MENU)):
                # Every page shows the menu, and every cached page depends on the taxonomy area.
                areas.update((NAV, TAXONOMY))
        elif isinstance(obj, Comment):
            # Only approved comments show; a new one waiting in the queue changes no public page.
            if obj in session.deleted or "approved" in _history_values(inspect(obj), "status"):
                if obj.post_id is not None:
                    post_ids.add(obj.post_id)
                areas.add(LISTINGS)  # the recent-comments widget
        elif isinstance(obj, PostRedirect):
            areas.add(post_area(obj.old_slug))
        elif isinstance(obj, (Category, Tag)):
            areas.update((LISTINGS, TAXONOMY))
        elif isinstance(obj, User):
            state = inspect(obj)
            # A new account shows nowhere yet; logins and passwords nowhere at all; names, bios, links,
            # avatars, deactivation and deletion on every page with that person's posts or comments.
            if obj in session.new:
                continue
            if obj in session.deleted or any(
                    state.attrs[name].history.has_changes()
                    for name in ("username", "is_active", "bio", "social_links", "avatar", "avatar_processed")
                    if name in state.attrs):
                areas.add(SITE)
    if post_ids:
        # Plain SQL on the flush's connection: the ORM state is left alone.
        slugs = session.connection().execute(select(Post.slug).where(Post.id.in_(post_ids))).scalars()
        areas.update(post_area(slug) for slug in slugs)
    return areas


#: Execution option that keeps a bulk UPDATE from invalidating (the view-count flush: counts are
#: not worth a cold cache every minute; pages show them at most PAGE_CACHE_TIMEOUT late).
QUIET = "pagecache_quiet"


@event.listens_for(Session, "do_orm_execute")
def _remember_bulk_changes(state) -> None:
    # UPDATE/DELETE statements skip the flush (the worker marking a cover's variants ready, for
    # one): they could touch any row, so everything is bumped after the commit.
    if not (state.is_update or state.is_delete) or state.execution_options.get(QUIET):
        return
    from blog.models import Category
    from blog.models import Comment
    from blog.models import Post
    from blog.models import Tag
    from blog.models import User

    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ in (Post, Comment, User, Category, Tag):
        state.session.info.setdefault(PENDING, set()).add(SITE)


@event.listens_for(Session, "after_flush")
def _remember_changes(session: Session, _flush_context) -> None:
    areas = _areas_for_flush(session)
    if areas:
        session.info.setdefault(PENDING, set()).update(areas)


@event.listens_for(Session, "after_commit")
def _bump_committed(session: Session) -> None:
    if session.in_nested_transaction():
        return
    areas = session.info.pop(PENDING, None)
    if areas:
        bump(*sorted(areas))


@event.listens_for(Session, "after_transaction_end")
def _forget_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(PENDING, None)
