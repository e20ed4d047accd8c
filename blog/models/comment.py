"""Comments, threaded through ``parent_id``."""
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
    from blog.models.post import Post
    from blog.models.user import User

COMMENT_STATUSES = ("pending", "approved", "rejected", "spam")


class Comment(db.Model):
    __tablename__ = "comments"
    __table_args__ = (
        # A post page loads its approved comments in one indexed range scan.
        Index("ix_comments_post_id_status", "post_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    # Indexed by ix_comments_post_id_status, whose leading column it is.
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    post: Mapped[Post] = relationship()
    author: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<Comment {self.id} on post {self.post_id}>"
