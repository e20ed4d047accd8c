"""Reading posts: listings and single posts, each in a fixed number of queries."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import selectinload

from blog.extensions import cache
from blog.extensions import db
from blog.models import Category
from blog.models import Post
from blog.models import Tag
from blog.models import User
from blog.services import taxonomy
from blog.services.errors import NotFound


def _listing() -> Select:
    # Author and category join in the same query; tags come in one extra IN query.
    return select(Post).options(
        joinedload(Post.author), joinedload(Post.category), selectinload(Post.tags)
    )


def period(year: int, month: int | None = None) -> tuple[datetime, datetime]:
    """The [start, end) range of a year or a month. Raises NotFound for impossible dates."""
    if not 1 <= year <= 9998 or (month is not None and not 1 <= month <= 12):
        raise NotFound("There is no such period.")
    if month is None:
        return datetime(year, 1, 1), datetime(year + 1, 1, 1)
    end = datetime(year + 1, 1, 1) if month == 12 else datetime(year, month + 1, 1)
    return datetime(year, month, 1), end


def published(page: int = 1, per_page: int | None = None, *, category: Category | None = None,
              tag: Tag | None = None, author: User | None = None, between: tuple[datetime, datetime] | None = None) -> Pagination:
    """Published posts, newest first, optionally in a category subtree, with a tag, by an author, or in a period.

    One page of them; past the last page is a 404.
    """
    query = _listing().where(Post.status == "published")
    if category is not None:
        query = query.where(Post.category_id.in_(taxonomy.subtree_ids(category)))
    if tag is not None:
        query = query.where(Post.tags.any(Tag.id == tag.id))
    if author is not None:
        query = query.where(Post.author_id == author.id)
    if between is not None:
        query = query.where(Post.published_at >= between[0], Post.published_at < between[1])
    query = query.order_by(Post.published_at.desc(), Post.id.desc())
    return db.paginate(query, page=page, per_page=per_page or current_app.config["POSTS_PER_PAGE"],
                       max_per_page=100)


@dataclass(frozen=True)
class PostLink:
    title: str
    slug: str
    views: int


@cache.memoize(timeout=taxonomy.WIDGET_TIMEOUT)
def popular(limit: int = 5) -> list[PostLink]:
    """The most read published posts (for the sidebar)."""
    rows = db.session.execute(
        select(Post.title, Post.slug, Post.views).where(Post.status == "published")
        .order_by(Post.views.desc(), Post.id.desc()).limit(limit)
    ).all()
    return [PostLink(*row) for row in rows]


def get_visible(slug: str, user=None) -> Post:
    """The post at ``slug`` if ``user`` may read it.

    Raises:
        NotFound: no such post, or it is a draft the user may not see (never a 403: that would leak it exists).
    """
    post = db.session.scalar(_listing().where(Post.slug == slug))
    if post is None or not post.is_visible_to(user):
        raise NotFound("There is no post at this address.")
    return post


def publish_due(now: datetime | None = None) -> list[Post]:
    """Publish every scheduled post whose time has come; returns them (the every-minute task)."""
    from blog.models import utcnow

    now = now or utcnow()
    due = list(db.session.scalars(
        select(Post).where(Post.status == "scheduled", Post.published_at <= now).with_for_update(skip_locked=True)
    ))
    for post in due:
        post.status = "published"
    db.session.commit()
    if due:
        taxonomy.clear_widgets()
    return due
