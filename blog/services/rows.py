"""Plain rows for the hottest read path: the post page and its comment thread.

Loading ORM objects costs several times what the SELECT does (one post: 108 µs through the ORM,
22 µs as Core): an uncached post page went from 2.5 to 1.95 ms in-process without them. These Core statements, built once, return slotted dataclasses that read like the
models (same attribute names, the same rules through the models' own mixins), and cannot
lazy-load, be changed or be flushed by accident. Writes go on using the models.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import Select
from sqlalchemy import aggregate_order_by
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import type_coerce

from blog.extensions import db
from blog.models import Category
from blog.models import Comment
from blog.models import Post
from blog.models import Tag
from blog.models import User
from blog.models.comment import CommentRules
from blog.models.post import PostRules
from blog.models.post import post_tags


@dataclass(frozen=True, slots=True)
class Byline:
    """Who wrote something, as a thread shows it: name and picture."""

    id: int
    username: str
    avatar: str | None
    avatar_processed: bool


@dataclass(frozen=True, slots=True)
class Author(Byline):
    """A post's author, as its page's author box shows them."""

    bio: str
    social_links: dict | None


@dataclass(frozen=True, slots=True)
class CategoryRow:
    id: int
    name: str
    slug: str


@dataclass(frozen=True, slots=True)
class TagRow:
    id: int
    name: str
    slug: str


@dataclass(frozen=True, slots=True)
class PostRow(PostRules):
    """A post as its page shows it: its short columns and stored HTML (``body``, the Markdown
    source, stays in the database), author, category and tags."""

    id: int
    title: str
    slug: str
    html: str
    summary: str
    cover_image: str | None
    cover_processed: bool
    cover_alt: str
    status: str
    reading_time: int
    word_count: int
    comments_enabled: bool
    views: int
    author_id: int
    category_id: int | None
    created_at: datetime
    updated_at: datetime | None
    published_at: datetime | None
    version: int
    kind: str
    author: Author | None
    category: CategoryRow | None
    tags: list[TagRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CommentRow(CommentRules):
    """A comment in a thread."""

    id: int
    body: str
    html: str
    status: str
    post_id: int
    author_id: int | None
    parent_id: int | None
    created_at: datetime
    deleted_at: datetime | None
    author_name: str | None
    author: Byline | None


def _names(row_class, *, but=()) -> tuple[str, ...]:
    """The field names of ``row_class``, which are its table's column names (less ``but``)."""
    return tuple(f.name for f in fields(row_class) if f.name not in but)


_POST_COLUMNS = _names(PostRow, but=("author", "category", "tags"))
_COMMENT_COLUMNS = _names(CommentRow, but=("author",))
_POSTS, _USERS, _COMMENTS, _CATEGORIES, _TAGS = (model.__table__.c for model in (Post, User, Comment, Category, Tag))
_BYLINE = tuple(_USERS[name] for name in _names(Byline))
_AUTHOR = tuple(_USERS[name] for name in _names(Author))
_CATEGORY = tuple(_CATEGORIES[name] for name in _names(CategoryRow))


def read(statement: Select, params: dict):
    """Run one of this module's statements on the session's own connection (its view of the data,
    and for a guest's page on PostgreSQL no transaction: ``rendering.read_without_transaction``),
    but as Core: an ORM-enabled execute would set up ORM result handling for rows that need none."""
    return db.session.connection().execute(statement, params)


@functools.cache
def _post_statement(dialect: str) -> Select:
    # The tags come in the same statement, as one JSON array of [id, name, slug] in name order:
    # one round trip, not two. SQLite before 3.44 cannot order inside an aggregate; its BINARY
    # collation is Python's str order, so post_by_slug sorts them there.
    tag = tuple(_TAGS[name] for name in _names(TagRow))
    if dialect == "postgresql":
        tags = select(aggregate_order_by(func.json_agg(func.json_build_array(*tag)), _TAGS.name))
    else:
        tags = select(func.json_group_array(func.json_array(*tag)))
    tags = tags.select_from(post_tags.join(_TAGS.id.table, _TAGS.id == post_tags.c.tag_id)).where(
        post_tags.c.post_id == _POSTS.id).scalar_subquery()
    return (select(*(_POSTS[name] for name in _POST_COLUMNS), *_AUTHOR, *_CATEGORY, type_coerce(tags, JSON))
            .outerjoin(_USERS.id.table, _USERS.id == _POSTS.author_id)
            .outerjoin(_CATEGORIES.id.table, _CATEGORIES.id == _POSTS.category_id)
            .where(_POSTS.slug == bindparam("slug")))


_AUTHOR_AT = len(_POST_COLUMNS)
_CATEGORY_AT = _AUTHOR_AT + len(_AUTHOR)
_TAGS_AT = _CATEGORY_AT + len(_CATEGORY)


def post_by_slug(slug: str) -> PostRow | None:
    """The post at ``slug`` with its author, category and tags (one query), or None."""
    connection = db.session.connection()
    dialect = connection.dialect.name
    row = connection.execute(_post_statement(dialect), {"slug": slug}).first()
    if row is None:
        return None
    author = Author(*row[_AUTHOR_AT:_CATEGORY_AT]) if row[_AUTHOR_AT] is not None else None
    category = CategoryRow(*row[_CATEGORY_AT:_TAGS_AT]) if row[_CATEGORY_AT] is not None else None
    tags = [TagRow(*tag) for tag in row[_TAGS_AT] or ()]
    if dialect != "postgresql":
        tags.sort(key=lambda tag: tag.name)
    return PostRow(*row[:_AUTHOR_AT], author=author, category=category, tags=tags)


def comment_select(where, *, extra=()) -> tuple[Select, int]:
    """A SELECT of the comments matching ``where``, oldest first, with their authors' bylines (and
    the columns in ``extra`` after them), and how many columns the comment itself takes."""
    columns = (*(_COMMENTS[name] for name in _COMMENT_COLUMNS), *_BYLINE)
    statement = (select(*columns, *extra).outerjoin(_USERS.id.table, _USERS.id == _COMMENTS.author_id).where(*where)
                 .order_by(_COMMENTS.created_at, _COMMENTS.id))
    return statement, len(columns)


def comment_rows(statement: Select, params: dict | None = None) -> list[CommentRow]:
    """The rows of a ``comment_select`` statement as CommentRows."""
    return [comment_row(row) for row in read(statement, params or {})]


def comment_row(row) -> CommentRow:
    """One row of a ``comment_select`` as a CommentRow."""
    n = len(_COMMENT_COLUMNS)
    return CommentRow(*row[:n], author=Byline(*row[n:n + len(_BYLINE)]) if row[n] is not None else None)
