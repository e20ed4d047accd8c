"""RSS 2.0 feeds of the newest published posts."""
from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from datetime import UTC

from flask import current_app
from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import selectinload

from blog.extensions import db
from blog.models import Category
from blog.models import Post
from blog.models import Tag
from blog.services import taxonomy

FEED_SIZE = 20


def newest(*, category: Category | None = None, tag: Tag | None = None, limit: int = FEED_SIZE) -> list[Post]:
    """The newest published posts, optionally of a category subtree or a tag (two queries)."""
    query = (select(Post).options(joinedload(Post.author), joinedload(Post.category), selectinload(Post.tags))
             .where(Post.status == "published", Post.kind == "post"))
    if category is not None:
        query = query.where(Post.category_id.in_(taxonomy.subtree_ids(category)))
    if tag is not None:
        query = query.where(Post.tags.any(Tag.id == tag.id))
    return list(db.session.scalars(query.order_by(Post.published_at.desc(), Post.id.desc()).limit(limit)))


def rfc822(value: datetime | None) -> str:
    """A naive-UTC timestamp in the format RSS wants."""
    return format_datetime((value or datetime(1970, 1, 1)).replace(tzinfo=UTC))


def render_rss(title: str, link: str, description: str, items: list[Post]) -> str:
    """The RSS 2.0 document; absolute links use SITE_URL."""
    return render_template("feeds/rss.xml", title=title, link=link, description=description, items=items,
                           site_url=current_app.config["SITE_URL"], rfc822=rfc822)
