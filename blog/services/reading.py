"""What reading pages show around posts: listing cards, the post's neighbours, related posts.

Each helper is one query whatever the number of posts or comments, and reads only short columns
(or a bounded prefix of the stored HTML), so a listing or a post page keeps a fixed query count.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import union_all

from blog.extensions import db
from blog.models import Comment
from blog.models import Post
from blog.models import User
from blog.models.post import post_tags
from blog.services import media
from blog.services import pagecache
from blog.services.seo import plain_prefix

#: How much of a post's stored HTML a card reads for its excerpt (the body itself stays in the database).
EXCERPT_SOURCE = 1500
#: An excerpt stops after the sentence that passes this many characters, and is cut at EXCERPT_MAX.
EXCERPT_TARGET = 140
EXCERPT_MAX = 240
#: Related posts and "more from" titles on a post page.
RELATED = 3
MORE_FROM = 3
#: How many of the posts sharing the most tags are looked at to find the related ones (bounds the work).
RELATED_CANDIDATES = 50

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


@dataclass(frozen=True)
class Card:
    """What a listing card shows beyond the post's own short columns."""

    excerpt: str
    comments: int


@dataclass(frozen=True)
class Link:
    """A post named by another post's page."""

    title: str
    slug: str
    published_at: datetime | None


@dataclass(frozen=True)
class Neighbours:
    """The previous (older) and next (newer) published posts, and more by the same author."""

    previous: Link | None
    next: Link | None
    more_from: list[Link]


def excerpt(summary: str, html_prefix: str) -> str:
    """The card text: the summary, else the first sentences of the post's text (about EXCERPT_TARGET characters)."""
    text = " ".join((summary or "").split())
    if text:
        return text
    text = plain_prefix(html_prefix)
    end = None
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end >= EXCERPT_TARGET:
            break
    if end is not None and end <= EXCERPT_MAX:
        return text[:end]
    if len(text) <= EXCERPT_MAX and len(html_prefix or "") < EXCERPT_SOURCE:
        return text  # the whole (short) text, no sentence end needed
    return text[:EXCERPT_MAX - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def approved_comments(post_id):
    """A correlated COUNT of ``post_id``'s approved, not removed comments (what readers see counted)."""
    return (select(func.count()).select_from(Comment)
            .where(Comment.post_id == post_id, Comment.status == "approved", Comment.deleted_at.is_(None))
            .scalar_subquery())


def cards(posts: list[Post]) -> dict[int, Card]:
    """Excerpt and comment count of each listed post, by id: one query for the whole page.

    Reads the first EXCERPT_SOURCE characters of the stored HTML only for posts without a summary,
    and counts comments with a correlated subquery on ``ix_comments_post_id_status``.
    """
    if not posts:
        return {}
    ids = [post.id for post in posts]
    prefix = func.substr(Post.html, 1, EXCERPT_SOURCE)
    rows = db.session.execute(
        select(Post.id, Post.summary, prefix, approved_comments(Post.id)).where(Post.id.in_(ids)))
    return {post_id: Card(excerpt(summary, html or ""), count or 0) for post_id, summary, html, count in rows}


def _public_posts():
    return and_(Post.status == "published", Post.kind == "post")


def _link_columns(role: str):
    return (literal(role).label("role"), Post.title, Post.slug, Post.published_at)


#: How long a post's neighbours and related posts are kept; a change to any of them (the
#: ``neighbours`` area) replaces them at once anyway, and comments never do.
AROUND_TIMEOUT = 300


def neighbours(post: Post) -> Neighbours:
    """The published posts just before and after ``post`` (by publication time) and the author's latest others.

    One query (three index range scans joined with UNION ALL), memoised until a published post's
    title, slug, time, author or tags change; nothing for a post that is not published.
    """
    if post.status != "published" or post.kind != "post" or post.published_at is None:
        return Neighbours(None, None, [])
    return _neighbours_of(post.id, post.published_at, post.author_id)


@functools.cache
def _neighbours_statement():
    # Built once, with bound parameters: building it per request cost more than running it.
    when, pid, author = bindparam("when"), bindparam("pid"), bindparam("author")
    # The plain range first, so the index on (status, published_at) starts at this post, not at one end;
    # the OR breaks ties between posts published in the same instant by id, as listings do.
    older = and_(Post.published_at <= when, or_(Post.published_at < when, Post.id < pid))
    newer = and_(Post.published_at >= when, or_(Post.published_at > when, Post.id > pid))
    parts = [
        select(*_link_columns("previous")).where(_public_posts(), older)
        .order_by(Post.published_at.desc(), Post.id.desc()).limit(1),
        select(*_link_columns("next")).where(_public_posts(), newer)
        .order_by(Post.published_at.asc(), Post.id.asc()).limit(1),
        select(*_link_columns("more")).where(_public_posts(), Post.author_id == author, Post.id != pid)
        .order_by(Post.published_at.desc(), Post.id.desc()).limit(MORE_FROM),
    ]
    # Each part keeps its own ORDER BY and LIMIT inside a subquery (SQLite refuses them on a compound's arms).
    return union_all(*(select(part.subquery()) for part in parts))


@pagecache.memoize(pagecache.NEIGHBOURS, timeout=AROUND_TIMEOUT)
def _neighbours_of(post_id: int, published_at: datetime, author_id: int | None) -> Neighbours:
    found: dict[str, list[Link]] = {"previous": [], "next": [], "more": []}
    rows = db.session.execute(_neighbours_statement(), {"when": published_at, "pid": post_id, "author": author_id})
    for role, title, slug, when in rows:
        found[role].append(Link(title, slug, when))
    found["more"].sort(key=lambda link: link.published_at or datetime.min, reverse=True)
    return Neighbours(next(iter(found["previous"]), None), next(iter(found["next"]), None), found["more"])


def related(post: Post, limit: int = RELATED) -> list[Link]:
    """Up to ``limit`` published posts sharing the most tags with ``post``, then the newest: one query,
    memoised like ``neighbours``.

    Empty when the post has no tags (nothing is made up to fill the space). Among posts sharing as
    many tags, the newest RELATED_CANDIDATES by id are considered (ids follow creation), then ordered
    by publication time.
    """
    tag_ids = tuple(sorted(tag.id for tag in post.tags))
    if not tag_ids:
        return []
    return _related_to(post.id, tag_ids, limit)


@functools.cache
def _related_statement():
    # The candidates come from post_tags alone (its tag_id index: a few narrow rows per tag): the
    # RELATED_CANDIDATES posts sharing the most tags, newest ids first. Only those are joined to
    # ``posts`` (by primary key) to keep the published ones and order them by publication time, so the
    # work stays bounded when a tag has thousands of posts (driven from ``posts``, the database walked
    # every published post: 25 ms on PostgreSQL, 20 ms on SQLite at 10,000 posts; this, ~2 ms).
    shared_count = func.count()
    candidates = (select(post_tags.c.post_id, shared_count.label("shared"))
                  .where(post_tags.c.tag_id.in_(bindparam("tags", expanding=True)),
                         post_tags.c.post_id != bindparam("pid"))
                  .group_by(post_tags.c.post_id)
                  .order_by(shared_count.desc(), post_tags.c.post_id.desc())
                  .limit(RELATED_CANDIDATES).subquery())
    return (select(Post.title, Post.slug, Post.published_at, candidates.c.shared)
            .join(candidates, candidates.c.post_id == Post.id)
            .where(_public_posts())
            .order_by(candidates.c.shared.desc(), Post.published_at.desc(), Post.id.desc())
            .limit(bindparam("limit")))


@pagecache.memoize(pagecache.NEIGHBOURS, timeout=AROUND_TIMEOUT)
def _related_to(post_id: int, tag_ids: tuple[int, ...], limit: int) -> list[Link]:
    rows = db.session.execute(_related_statement(), {"tags": list(tag_ids), "pid": post_id, "limit": limit})
    return [Link(title, slug, published_at) for title, slug, published_at, _ in rows]


def cover_alt(post: Post) -> str:
    """The alt text of ``post``'s cover on a card: the writer's ``cover_alt``; none given, the picture is
    decorative (``alt=""``), as on the post page: the title is the card's heading right beside it."""
    return (post.cover_alt or "").strip()


def card_image(post: Post) -> dict | None:
    """The listing card's picture of ``post``'s cover (400×225 crop, larger widths in ``srcset``), or None.

    No query and no look at the disk: only ``cover_image`` and ``cover_processed``.
    """
    cover = media.cover_urls(post)
    if cover is None:
        return None
    if not cover["processed"]:  # the worker has not made the variants yet: the original, cropped by CSS
        return {"src": cover["card"], "srcset": "", "alt": cover_alt(post)}
    # The card is a 16:9 crop; the wider variants keep the cover's shape and CSS crops them the same way.
    srcset = f"{cover['card']} 400w, {cover['srcset']}"
    return {"src": cover["card"], "srcset": srcset, "alt": cover_alt(post)}


@functools.lru_cache(maxsize=4096)
def initials(name: str) -> str:
    """One or two letters standing in for someone without an avatar ("ada_lovelace" -> "AL")."""
    parts = [part for part in re.split(r"[\W_]+", name or "") if part]
    if not parts:
        return "?"
    letters = parts[0][0] + (parts[1][0] if len(parts) > 1 else "")
    return letters.upper()


def social_links(user: User) -> list[tuple[str, str]]:
    """The profile's links that are http(s) URLs, as (name, url), for the author box."""
    links = user.social_links or {}
    return [(name, url) for name, url in links.items()
            if isinstance(url, str) and url.startswith(("https://", "http://"))]


class Around:
    """A post page's surroundings (neighbours, related posts), queried only if the whole page renders them.

    An htmx refresh of the comment thread renders one block and so runs none of these queries.
    """

    def __init__(self, post: Post) -> None:
        self.post = post

    @cached_property
    def neighbours(self) -> Neighbours:
        return neighbours(self.post)

    @cached_property
    def related(self) -> list[Link]:
        return related(self.post)
