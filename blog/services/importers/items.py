"""The plain items every import format is read into, before the writer stores them."""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime


@dataclass
class UserItem:
    key: str
    username: str
    email: str = ""
    role: str = "author"
    bio: str = ""
    created_at: datetime | None = None


@dataclass
class CategoryItem:
    key: str
    slug: str
    name: str
    parent_key: str | None = None
    description: str = ""


@dataclass
class TagItem:
    key: str
    slug: str
    name: str


@dataclass
class MediaItem:
    """An image file to store under UPLOAD_FOLDER/media/ (a WordPress attachment)."""

    key: str
    label: str
    data: bytes | None  # None: the file was not found (reported as missing)
    urls: list[str] = field(default_factory=list)  # addresses the source used for it
    keep_name: str | None = None


@dataclass
class CommentItem:
    key: str
    post_key: str
    body: str  # Markdown-lite
    status: str = "approved"
    parent_key: str | None = None
    author_key: str | None = None  # a user of this import
    author_name: str | None = None
    author_email: str | None = None
    author_url: str | None = None
    created_at: datetime | None = None
    deleted_at: datetime | None = None


@dataclass
class PostItem:
    key: str
    title: str
    body: str  # Markdown
    slug: str = ""
    kind: str = "post"
    status: str = "draft"
    summary: str = ""
    author_key: str | None = None
    category_key: str | None = None
    tag_keys: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    published_at: datetime | None = None
    comments_enabled: bool = True
    nav_order: int | None = None
    #: (bytes, preferred key, source id) of the cover image, if any.
    cover: tuple[bytes, str | None, str] | None = None
    #: Old addresses (paths) that should answer 301 with this post's URL.
    old_paths: list[str] = field(default_factory=list)
    #: Report lines about this item: (action, reason).
    notes: list[tuple[str, str]] = field(default_factory=list)
