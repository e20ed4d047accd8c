"""Images uploaded into post bodies (the writer's media library, /my/media)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from blog.extensions import db
from blog.models.base import utcnow

#: Which posts' bodies show which media: rewritten on every save of a post (services.media.link_usage),
#: so "used in" on /my/media and the refusal to delete a used image are one indexed look-up.
media_usage = Table(
    "media_usage",
    db.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("media_id", ForeignKey("media.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Media(db.Model):
    """One uploaded image under UPLOAD_FOLDER/media/: ``<key>`` is ``<32 hex>.<ext>``, its WebP
    width variants ``<32 hex>-<width>.webp`` (made by the worker, never wider than the original)."""

    __tablename__ = "media"
    __table_args__ = (
        # /my/media: one writer's uploads, newest first (leads with owner_id, so it indexes it too).
        Index("ix_media_owner_created", "owner_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    #: The name the file had on the uploader's machine (shown, never used as a path).
    original_name: Mapped[str] = mapped_column(String(255), default="")
    width: Mapped[int]
    height: Mapped[int]
    bytes: Mapped[int]
    #: The alt text given at upload, offered again when the image is inserted.
    alt: Mapped[str] = mapped_column(String(500), default="")
    #: False while the worker has not yet made the WebP variants (and stripped the original's EXIF).
    processed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Media {self.key}>"
