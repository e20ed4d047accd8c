"""Static pages (posts of kind ``page`` at /<slug>), the header links to them, and old-address redirects."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import defer
from sqlalchemy.orm import joinedload

from blog.extensions import db
from blog.models import Post
from blog.models import Redirect
from blog.models.base import is_row_id
from blog.services import pagecache
from blog.services.errors import Invalid
from blog.services.errors import NotFound

NAV_TIMEOUT = 300  # seconds; any change to a page in the menu refreshes it at once (services.pagecache)


@dataclass(frozen=True)
class PageLink:
    title: str
    slug: str


@dataclass(frozen=True)
class PageEntry:
    slug: str
    updated_at: datetime


def reserved_slugs() -> frozenset[str]:
    """First path segments the site's own routes use (``blog``, ``tag``, ``search`` ...): no page may take them."""
    names = set()
    for rule in current_app.url_map.iter_rules():
        first = rule.rule.lstrip("/").split("/", 1)[0]
        if first and "<" not in first:
            names.add(first.removesuffix(".xml").removesuffix(".txt").removesuffix(".ico"))
            names.add(first)
    return frozenset(names)


def is_reserved(slug: str) -> bool:
    """True when ``/<slug>`` would be shadowed by (or shadow) one of the site's routes."""
    return slug in reserved_slugs()


def get_page(slug: str, user=None) -> Post:
    """The page at ``/<slug>`` if ``user`` may read it.

    Raises:
        NotFound: no page there, or a draft the user may not see.
    """
    page = db.session.scalar(select(Post).options(joinedload(Post.author))
                             .where(Post.slug == slug, Post.kind == "page"))
    if page is None or not page.is_visible_to(user):
        raise NotFound("There is no page at this address.")
    return page


def visible_post(slug: str, user=None) -> str | None:
    """The slug of the post (kind ``post``) at ``slug`` when ``user`` may read it, else None (one query)."""
    post = db.session.scalar(select(Post).options(defer(Post.body), defer(Post.html))
                             .where(Post.slug == slug, Post.kind == "post"))
    return post.slug if post is not None and post.is_visible_to(user) else None


# Under the menu's own generation, which any committed change to a page in it bumps: every process
# sees the change at once, and this process's copy saves the round trip to the cache backend.
@pagecache.memoize(pagecache.NAV, timeout=NAV_TIMEOUT)
def nav_pages() -> list[PageLink]:
    """Published pages that admins put in the header navigation, in their order (one query)."""
    rows = db.session.execute(
        select(Post.title, Post.slug)
        .where(Post.kind == "page", Post.status == "published", Post.nav_order.is_not(None))
        .order_by(Post.nav_order, Post.title)
    ).all()
    return [PageLink(*row) for row in rows]


def published_pages() -> list[PageEntry]:
    """Every published page, for the sitemap (one query)."""
    rows = db.session.execute(
        select(Post.slug, Post.updated_at).where(Post.kind == "page", Post.status == "published").order_by(Post.slug)
    ).all()
    return [PageEntry(*row) for row in rows]


def set_nav_order(orders: dict[int, int | None]) -> None:
    """Set the header positions of pages (``{page id: position or None}``); admins only (callers check)."""
    for page in db.session.scalars(select(Post).where(Post.id.in_(orders), Post.kind == "page")):
        page.nav_order = orders[page.id]
    db.session.commit()  # the menu's generation moves with it (services.pagecache)


# --- redirects from old addresses --------------------------------------------------------

def normalize(path: str) -> str:
    """The key an old address is stored under: the path without a trailing slash, lower-cased host parts gone.

    ``https://old.example/2013/01/hello/`` → ``/2013/01/hello``; ``/?p=12`` stays ``/?p=12``.
    """
    parts = urlsplit(path)
    key = unquote(parts.path).rstrip("/") or "/"  # Flask hands views the decoded path
    if key == "/" and parts.query:
        return f"/?{parts.query}"
    return key


def redirect_target(path: str) -> str | None:
    """Where an old address now lives (a path on this site), if a redirect is recorded for it."""
    key = normalize(path)
    if "\x00" in key:  # raw or %00: no recorded address holds a NUL, and PostgreSQL cannot even compare one
        return None
    return db.session.scalar(select(Redirect.target).where(Redirect.old_path == key))


def add_redirect(old: str, target: str) -> str | None:
    """Record (or re-point) a redirect from ``old`` to ``target`` in the current transaction.

    Returns ``"created"`` or ``"updated"``; None, recording nothing, when ``old`` is ``target``
    itself (it would loop) or the home page.
    """
    key = normalize(old)[:500]
    if key == normalize(target) or key == "/" or "\x00" in key:
        return None
    row = db.session.scalar(select(Redirect).where(Redirect.old_path == key))
    if row is None:
        db.session.add(Redirect(old_path=key, target=target))
        db.session.flush()  # the next look-up in this transaction sees it
        return "created"
    row.target = target
    return "updated"


def add_redirects(pairs: list[tuple[str, str]]) -> list[str | None]:
    """``add_redirect`` for many (old, target) pairs with one SELECT and no flush; an outcome per pair."""
    keys = [normalize(old)[:500] for old, _ in pairs]
    wanted = {key for key, (_, target) in zip(keys, pairs)
              if key != "/" and key != normalize(target) and "\x00" not in key}
    rows = {row.old_path: row for row in db.session.scalars(select(Redirect).where(Redirect.old_path.in_(wanted)))} \
        if wanted else {}
    outcomes: list[str | None] = []
    for key, (_, target) in zip(keys, pairs):
        if key not in wanted:
            outcomes.append(None)
        elif key in rows:
            rows[key].target = target
            outcomes.append("updated")
        else:
            rows[key] = Redirect(old_path=key, target=target)
            db.session.add(rows[key])
            outcomes.append("created")
    return outcomes


def redirects(page: int = 1, per_page: int = 50):
    """The redirects table for admins, by old address, one page at a time."""
    return db.paginate(select(Redirect).order_by(Redirect.old_path), page=page, per_page=per_page, max_per_page=200)


# --- the admins' redirects screen ---------------------------------------------------------

MAX_PATH = 500
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def _local_path(value: str, field: str, errors: dict[str, list[str]]) -> str | None:
    """``value`` when it is a path on this site (``/...``, never ``//host``, a scheme or a backslash)."""
    value = (value or "").strip()
    parts = urlsplit(value)
    if not value:
        errors[field] = ["Enter a path on this site, starting with /."]
    elif len(value) > MAX_PATH:
        errors[field] = [f"At most {MAX_PATH} characters."]
    elif _UNSAFE.search(value) or not value.startswith("/") or value.startswith("//") or parts.scheme or parts.netloc:
        errors[field] = ["Enter a path on this site, starting with / (no other site, no spaces)."]
    else:
        return value
    return None


def _served_by_the_site(path: str) -> bool:
    """True when one of the site's own routes (not the page/old-address catch-alls) answers ``path``."""
    from werkzeug.exceptions import HTTPException

    try:
        endpoint, _ = current_app.url_map.bind("localhost").match(urlsplit(path).path, method="GET")
    except HTTPException:
        return False
    return not endpoint.startswith("pages.")


def check_redirect(old: str | None, target: str, *, row: Redirect | None = None) -> tuple[str, str]:
    """The stored key and target for a redirect from ``old`` (None: keep ``row``'s) to ``target``.

    Raises:
        Invalid: not local paths, the home page, an address the site serves itself, a loop, or an
            old address another redirect already has.
    """
    errors: dict[str, list[str]] = {}
    key = row.old_path if row is not None else None
    if row is None:
        raw = (old or "").strip()
        if raw.startswith(("http://", "https://")):  # an old site's full URL: keep its path and query
            parts = urlsplit(raw)
            raw = parts.path + (f"?{parts.query}" if parts.query else "")
        if _local_path(raw, "old_path", errors) is not None:
            key = normalize(raw)
            if key == "/":
                errors["old_path"] = ["The home page cannot be redirected."]
            elif "\x00" in key:
                errors["old_path"] = ["An address cannot hold a NUL character (%00)."]
            elif _served_by_the_site(key):
                errors["old_path"] = ["The site answers this address itself; a redirect would never be used."]
            elif db.session.scalar(select(Redirect.id).where(Redirect.old_path == key)) is not None:
                errors["old_path"] = ["This address already redirects; change its target in the list instead."]
    checked = _local_path(target, "target", errors)
    if checked is not None and key is not None and "old_path" not in errors:
        if normalize(checked) == key:
            errors["target"] = ["The target is the old address itself (a loop)."]
        elif redirect_target(checked) and normalize(redirect_target(checked)) == key:
            errors["target"] = ["That address redirects back here (a loop)."]
    if errors:
        raise Invalid("The redirect was not saved.", errors)
    return key, checked


def search_redirects(q: str = "", page: int = 1, per_page: int = 50):
    """Redirects whose old address contains ``q``, by old address, a page at a time (three queries)."""
    from sqlalchemy import func

    from blog.services import paging

    where = [Redirect.old_path.contains(q.strip()[:MAX_PATH], autoescape=True)] if q.strip() else []
    return paging.paginate(
        ids=select(Redirect.id).where(*where).order_by(Redirect.old_path),
        count=select(func.count()).select_from(Redirect).where(*where),
        load=lambda ids: paging.in_order(select(Redirect), Redirect.id, ids),
        page=page, per_page=per_page)


def get_redirect(redirect_id: int) -> Redirect:
    row = db.session.get(Redirect, redirect_id) if is_row_id(redirect_id) else None
    if row is None:
        raise NotFound("There is no such redirect.")
    return row


def create_redirect(old: str, target: str) -> Redirect:
    """Record a new redirect (admins; the view checks the role). Raises Invalid."""
    key, checked = check_redirect(old, target)
    row = Redirect(old_path=key, target=checked)
    db.session.add(row)
    db.session.commit()
    return row


def update_redirect(row: Redirect, target: str) -> Redirect:
    """Point a redirect somewhere else. Raises Invalid."""
    _, row.target = check_redirect(None, target, row=row)
    db.session.commit()
    return row


def delete_redirect(row: Redirect) -> None:
    db.session.delete(row)
    db.session.commit()
