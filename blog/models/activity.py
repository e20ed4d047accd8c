"""The moderation history: who did what to which user, post or comment, and when."""
from __future__ import annotations

from datetime import date
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Date
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

#: What can be recorded, with the words the activity page uses for it.
ACTIONS = {
    "post.published": "published",
    "post.scheduled": "scheduled",
    "post.sent_back": "sent back",
    "post.archived": "archived",
    "post.deleted": "deleted",
    "comment.approved": "approved",
    "comment.rejected": "rejected",
    "comment.spam": "marked as spam",
    "comment.deleted": "deleted",
    "user.role": "changed the role of",
    "user.deactivated": "deactivated",
    "user.reactivated": "reactivated",
    "user.verification": "re-sent the verification mail to",
    "user.deleted": "deleted",
}


class Activity(db.Model):
    """One admin or moderator action. Names are copied in, so the line still reads once the row is gone."""

    __tablename__ = "activity"
    __table_args__ = (
        # The activity page (newest first) and the history shown on a post's or a user's admin row.
        Index("ix_activity_post_id_created_at", "post_id", "created_at"),
        Index("ix_activity_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    #: The actor's username when it happened.
    actor_name: Mapped[str] = mapped_column(String(40))
    #: One of ACTIONS.
    action: Mapped[str] = mapped_column(String(40))
    #: The post acted on (or whose comment was), if it still exists; indexed by ix_activity_post_id_created_at.
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    #: The user acted on, if it still exists; indexed by ix_activity_user_id_created_at.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The comment acted on (no foreign key: deleted comments keep their line).
    comment_id: Mapped[int | None]
    #: What was acted on, as shown then: a post title, a username, "comment by bob on “Title”".
    subject: Mapped[str] = mapped_column(String(300))
    #: The reason sent with a post sent back, "reader → author" for a role change ...
    detail: Mapped[str] = mapped_column(Text, default="")

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])

    @property
    def verb(self) -> str:
        return ACTIONS.get(self.action, self.action)

    @property
    def kind(self) -> str:
        """``post``, ``comment`` or ``user``."""
        return self.action.partition(".")[0]


class PostViewDay(db.Model):
    """Reads of a post per UTC day, for the dashboard's chart and the week's most-read posts."""

    __tablename__ = "post_view_days"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    views: Mapped[int] = mapped_column(default=0)
