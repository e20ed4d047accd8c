"""Comments, threaded through ``parent_id``."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from blog.extensions import db
from blog.models.base import utcnow

if TYPE_CHECKING:
    from blog.models.post import Post
    from blog.models.user import User

COMMENT_STATUSES = ("pending", "approved", "rejected", "spam")


class CommentRules:
    """What a comment's own columns (and its author) decide, shared by the model and the thread's
    plain rows (services/rows.py)."""

    __slots__ = ()

    @property
    def display_name(self) -> str:
        """Who wrote it: the account's username, else the guest's name (imported comments), else a deleted user."""
        if self.author is not None:
            return self.author.username
        return self.author_name or "deleted user"

    @property
    def is_removed(self) -> bool:
        return self.deleted_at is not None


class Comment(CommentRules, db.Model):
    __tablename__ = "comments"
    __table_args__ = (
        # A post page loads its approved comments in one indexed range scan.
        Index("ix_comments_post_id_status", "post_id", "status"),
        # The moderation queue: newest first within a status.
        Index("ix_comments_status_created_at", "status", "created_at"),
        # A double submit (same form token) can never create a second row.
        UniqueConstraint("author_id", "submission_id", name="uq_comments_author_id_submission"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    #: ``body`` through services.content.render_comment (Markdown-lite, sanitised), made on save.
    html: Mapped[str] = mapped_column(Text, default="")
    # Indexed by ix_comments_status_created_at, whose leading column it is.
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # Indexed by ix_comments_post_id_status, whose leading column it is.
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: Set when a comment with replies is deleted: it stays as "comment removed" so replies read on.
    deleted_at: Mapped[datetime | None]
    #: The random token of the form that sent it (double-submit guard).
    submission_id: Mapped[str | None] = mapped_column(String(40))
    #: A guest's comment (imported from another blog: no account here): the name, email and site they gave.
    author_name: Mapped[str | None] = mapped_column(String(100))
    author_email: Mapped[str | None] = mapped_column(String(254))
    author_url: Mapped[str | None] = mapped_column(String(500))

    post: Mapped[Post] = relationship()
    author: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<Comment {self.id} on post {self.post_id}>"
