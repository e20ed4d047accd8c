"""Static pages (posts of kind ``page`` at /<slug>), the header links to them, and old-address redirects."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import defer
from sqlalchemy.orm import joinedload

from blog.extensions import cache
from blog.extensions import db
from blog.models import Post
from blog.models import Redirect
from blog.services.errors import NotFound

NAV_TIMEOUT = 60  # seconds; saving a page or an import clears it at once


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


@cache.memoize(timeout=NAV_TIMEOUT)
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
    db.session.commit()
    clear_nav()


def clear_nav() -> None:
    """Forget the cached header links (after a page is saved, moved or imported)."""
    cache.delete_memoized(nav_pages)


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
    return db.session.scalar(select(Redirect.target).where(Redirect.old_path == normalize(path)))


def add_redirect(old: str, target: str) -> str | None:
    """Record (or re-point) a redirect from ``old`` to ``target`` in the current transaction.

    Returns ``"created"`` or ``"updated"``; None, recording nothing, when ``old`` is ``target``
    itself (it would loop) or the home page.
    """
    key = normalize(old)[:500]
    if key == normalize(target) or key == "/":
        return None
    row = db.session.scalar(select(Redirect).where(Redirect.old_path == key))
    if row is None:
        db.session.add(Redirect(old_path=key, target=target))
        db.session.flush()  # the next look-up in this transaction sees it
        return "created"
    row.target = target
    return "updated"


def redirects(page: int = 1, per_page: int = 50):
    """The redirects table for admins, by old address, one page at a time."""
    return db.paginate(select(Redirect).order_by(Redirect.old_path), page=page, per_page=per_page, max_per_page=200)
