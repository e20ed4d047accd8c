"""RSS 2.0 and Atom 1.0 feeds of the newest published posts.

Both are Jinja templates (``templates/feeds/``) over the same query rather than a feed library:
feedgen, the well-kept choice, would bring lxml (a large C extension) for documents this small,
and our templates already escape through Jinja's XML autoescaping; the tests parse both with
feedparser and require no warning (``bozo``). Entry ids are tag URIs made from the post's id and
first publication date, so they survive a change of title, slug or host name alias.
"""
from __future__ import annotations

import hashlib
import re
from datetime import UTC
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from flask import Response
from flask import current_app
from flask import make_response
from flask import render_template
from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import selectinload

from blog import rendering
from blog.extensions import db
from blog.models import Category
from blog.models import Post
from blog.models import Tag
from blog.models import User
from blog.services import taxonomy

FEED_SIZE = 20
#: Relative ``href``/``src`` in sanitised post HTML (bleach always writes double quotes).
_RELATIVE = re.compile(r'(\s(?:href|src)=")(/(?!/)[^"]*)"')


def newest(*, category: Category | None = None, tag: Tag | None = None, author: User | None = None,
           limit: int = FEED_SIZE) -> list[Post]:
    """The newest published posts, optionally of a category subtree, a tag or an author (two queries)."""
    query = (select(Post).options(joinedload(Post.author), joinedload(Post.category), selectinload(Post.tags))
             .where(Post.status == "published", Post.kind == "post"))
    if category is not None:
        query = query.where(Post.category_id.in_(taxonomy.subtree_ids(category)))
    if tag is not None:
        query = query.where(Post.tags.any(Tag.id == tag.id))
    if author is not None:
        query = query.where(Post.author_id == author.id)
    return list(db.session.scalars(query.order_by(Post.published_at.desc(), Post.id.desc()).limit(limit)))


def rfc822(value: datetime | None) -> str:
    """A naive-UTC timestamp in the format RSS wants."""
    return format_datetime((value or datetime(1970, 1, 1)).replace(tzinfo=UTC))


def rfc3339(value: datetime | None) -> str:
    """A naive-UTC timestamp in the format Atom wants."""
    return (value or datetime(1970, 1, 1)).replace(microsecond=0).isoformat() + "Z"


def absolute_html(html: str) -> str:
    """Post HTML with its site-relative links and images made absolute on SITE_URL (readers show it elsewhere)."""
    site = current_app.config["SITE_URL"]
    return _RELATIVE.sub(lambda m: f'{m.group(1)}{site}{m.group(2)}"', html)


def entry_id(post: Post) -> str:
    """A stable, unique id for a post (RFC 4151 tag URI): not its URL, which a new slug changes."""
    host = urlsplit(current_app.config["SITE_URL"]).hostname or "localhost"
    day = (post.published_at or post.created_at or datetime(1970, 1, 1)).date().isoformat()
    return f"tag:{host},{day}:post-{post.id}"


def render_rss(title: str, link: str, description: str, items: list[Post]) -> str:
    """The RSS 2.0 document; absolute links use SITE_URL."""
    return render_template("feeds/rss.xml", title=title, link=link, description=description, items=items,
                           site_url=current_app.config["SITE_URL"], rfc822=rfc822, absolute_html=absolute_html,
                           entry_id=entry_id)


def render_atom(title: str, link: str, description: str, items: list[Post]) -> str:
    """The Atom 1.0 document (full HTML content, absolute links, stable ids)."""
    updated = max((post.updated_at for post in items), default=None)
    return render_template("feeds/atom.xml", title=title, link=link, description=description, items=items,
                           site_url=current_app.config["SITE_URL"], rfc3339=rfc3339, updated=updated,
                           absolute_html=absolute_html, entry_id=entry_id, feed_id=link)


def conditional(body: str | bytes, mimetype: str, last_modified: datetime | None = None,
                max_age: int = 300) -> Response:
    """A response of ``body`` that answers ``If-None-Match`` / ``If-Modified-Since`` with 304.

    For documents polled all day (feeds, the sitemap, robots.txt): the ETag is a strong digest of the
    exact bytes, so any change (a new post, an edit, a new title) changes it.
    """
    data = body.encode() if isinstance(body, str) else body
    response = make_response(data)
    response.mimetype = mimetype
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return rendering.conditional(response, f'"{hashlib.sha256(data).hexdigest()[:32]}"', last_modified)


def feed_response(kind: str, title: str, link: str, description: str, items: list[Post]) -> Response:
    """The RSS (``kind="rss"``) or Atom document of ``items``, answering conditional GETs."""
    if kind == "atom":
        body, mimetype = render_atom(title, link, description, items), "application/atom+xml"
    else:
        body, mimetype = render_rss(title, link, description, items), "application/rss+xml"
    return conditional(body, mimetype, max((post.updated_at for post in items), default=None))


def alternates(endpoint: str, **values) -> list[tuple[str, str]]:
    """(type, URL) of the RSS and Atom feeds beside a page, for autodiscovery links."""
    return [("application/rss+xml", url_for(f"main.{endpoint}", **values)),
            ("application/atom+xml", url_for(f"main.{endpoint.replace('feed', 'atom')}", **values))]
