"""Revisions of a post: what it said at each save, and the writer's latest autosave."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from blog.extensions import db
from blog.models.base import utcnow

if TYPE_CHECKING:
    from blog.models.user import User

#: ``save``: a manual save (editor, API, restore), all kept; ``autosave``: the editor's background
#: save, at most one per writer and post (each replaces the last), so the table stays bounded.
KINDS = ("save", "autosave")


class PostRevision(db.Model):
    __tablename__ = "post_revisions"
    __table_args__ = (
        # The revisions page: a post's revisions, newest first (also finds a writer's autosave).
        Index("ix_post_revisions_post_id_created_at", "post_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    #: Who saved it (None once that account is deleted).
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: One of KINDS.
    kind: Mapped[str] = mapped_column(String(10), default="save")
    #: The post's version the writer's editor was opened at (for a save: the version it replaced).
    base_version: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text)
    #: Tag names as typed, "a, b, c".
    tags: Mapped[str] = mapped_column(Text, default="")

    author: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<PostRevision {self.id} of post {self.post_id} ({self.kind})>"
