"""Posts and their tags."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from blog.extensions import db
from blog.models.base import utcnow

if TYPE_CHECKING:
    from blog.models.taxonomy import Category
    from blog.models.taxonomy import Tag
    from blog.models.user import User

#: Post statuses (DESIGN.md): readers' posts wait in ``pending`` for a moderator.
STATUSES = ("draft", "pending", "scheduled", "published", "archived")
#: ``post``: in listings, feeds and the archive at /blog/<slug>; ``page``: a static page at /<slug>.
KINDS = ("post", "page")

post_tags = Table(
    "post_tags",
    db.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class PostRules:
    """What a post's own columns decide, shared by the model and the post page's plain row (services/rows.py)."""

    __slots__ = ()

    @property
    def is_public(self) -> bool:
        """Published and archived posts can be read by anyone."""
        return self.status in ("published", "archived")

    @property
    def is_page(self) -> bool:
        """A static page (served at /<slug>), not a post."""
        return self.kind == "page"

    def is_visible_to(self, user) -> bool:
        """Guests see public posts; authors their own; moderators everything."""
        if self.is_public:
            return True
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        return user.id == self.author_id or user.is_moderator


class Post(PostRules, db.Model):
    __tablename__ = "posts"
    __table_args__ = (
        # Feeds, the sitemap and the digest filter on status and sort by publication date.
        Index("ix_posts_status_published_at", "status", "published_at"),
        # Public listings: covering indexes (id is the last column), so the count and the OFFSET
        # of a deep page read index entries only and never a table row (services/paging.listing).
        Index("ix_posts_listing", "status", "kind", "published_at", "id"),
        Index("ix_posts_category_listing", "category_id", "status", "kind", "published_at", "id"),
        Index("ix_posts_author_listing", "author_id", "status", "kind", "published_at", "id"),
        # The "most read" widget (outside an index, SQLite reads ``kind`` and ``views`` through
        # each row's overflow pages, after ``body``: 36 ms at 10,000 posts instead of 0.1 ms).
        Index("ix_posts_status_kind_views", "status", "kind", "views"),
        # /admin/posts: each status tab by its latest change (the review queue by its oldest).
        Index("ix_posts_status_updated_at", "status", "updated_at"),
        # /my/posts: a writer's own posts per status tab, by their latest change.
        Index("ix_posts_author_status_updated", "author_id", "status", "updated_at"),
        # The header navigation: public pages with a menu position, in that order.
        Index("ix_posts_kind_nav_order", "kind", "nav_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(220), unique=True)
    body: Mapped[str] = mapped_column(Text)
    #: ``body`` rendered by services.content.render_markdown (sanitised) when saved.
    html: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(String(500), default="")
    #: Random key of the cover files under UPLOAD_FOLDER/covers/ (services.media); None: no cover.
    cover_image: Mapped[str | None] = mapped_column(String(255))
    #: False while the worker has not yet made the cover's resized variants.
    cover_processed: Mapped[bool] = mapped_column(default=False)
    #: The cover's alt text (post page, listings, og:image:alt); empty: the cover is decorative.
    cover_alt: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # Indexed by ix_posts_status_published_at, whose leading column it is.
    # active_history: a change is judged by what it leaves as well as what it sets (the page cache
    # bumps listings when a post leaves "published"), even when the old value was not loaded.
    status: Mapped[str] = mapped_column(String(20), default="draft", active_history=True)
    reading_time: Mapped[int] = mapped_column(default=1)
    #: Words in ``html``'s text (services.seo.count_words), counted when it is rendered: the post
    #: page's JSON-LD shows it without reading the whole body on every request.
    word_count: Mapped[int] = mapped_column(default=0, server_default="0")
    comments_enabled: Mapped[bool] = mapped_column(default=True)
    views: Mapped[int] = mapped_column(default=0)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    #: Optimistic lock: every ORM update checks and bumps it, so a save based on a stale read fails
    #: (StaleDataError, a 409 for the caller) instead of silently overwriting a concurrent edit.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}
    #: One of KINDS; pages stay out of listings, feeds and the archive.
    # Only a server default: rows written by code that predates pages (or this column) are posts.
    kind: Mapped[str] = mapped_column(String(10), server_default="post", active_history=True)
    #: A page's position in the header navigation (ascending); None: not linked there.
    nav_order: Mapped[int | None]

    author: Mapped[User] = relationship(back_populates="posts")
    category: Mapped[Category | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, order_by="Tag.name")

    def __repr__(self) -> str:
        return f"<Post {self.slug}>"


class PostRedirect(db.Model):
    """A slug a post had before its title changed after publishing: it redirects to the post."""

    __tablename__ = "post_redirects"

    old_slug: Mapped[str] = mapped_column(String(220), primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)


class Redirect(db.Model):
    """An old address (a WordPress permalink, say) answered with a 301 to ``target``; admins may edit them.

    ``old_path`` is a path without its trailing slash (``/2013/01/11/hello``, ``/category/a/b``), or
    ``/?p=ID`` / ``/?page_id=ID`` for WordPress's query-string links.
    """

    __tablename__ = "redirects"

    id: Mapped[int] = mapped_column(primary_key=True)
    old_path: Mapped[str] = mapped_column(String(500), unique=True)
    target: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportedItem(db.Model):
    """Which local row an imported item became, so running an import again updates instead of duplicating."""

    __tablename__ = "imported_items"

    #: Where it came from: ``wxr:<blog URL>``, ``inkwell-json`` or ``markdown``.
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: ``user``, ``category``, ``tag``, ``post``, ``comment`` or ``media``.
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    #: The source's own id (a WordPress post id, a comment id, a file path).
    external_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    local_id: Mapped[int]
    #: For media: the stored file's name under UPLOAD_FOLDER/media/.
    local_name: Mapped[str | None] = mapped_column(String(255))
