"""Email subscribers (members or not) and the record of what each was sent."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from blog.extensions import db
from blog.models.base import utcnow

if TYPE_CHECKING:
    from blog.models.mail import MailMessage
    from blog.models.taxonomy import Category
    from blog.models.taxonomy import Tag

#: How often a subscriber hears from us: a mail per new post, or the Monday digest.
FREQUENCIES = ("post", "digest")


class Subscriber(db.Model):
    """One address following all posts, one category (with its sub-categories) or one tag."""

    __tablename__ = "subscribers"
    __table_args__ = (
        # One row per address and scope: subscribing twice finds the first row.
        UniqueConstraint("email", "scope", name="uq_subscribers_email_scope"),
        # The digest and new-post runs walk confirmed subscribers of one frequency by id.
        Index("ix_subscribers_frequency_confirmed", "frequency", "confirmed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-cased on the way in, so two spellings of one address are one subscriber.
    email: Mapped[str] = mapped_column(String(254))
    #: ``all``, ``category:<id>`` or ``tag:<id>``: the uniqueness key beside ``email``.
    scope: Mapped[str] = mapped_column(String(40), default="all")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"), index=True)
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), index=True)
    frequency: Mapped[str] = mapped_column(String(10), default="digest")
    #: The account that subscribed while signed in (it manages the row on its profile).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: NULL until the address confirms (double opt-in); unconfirmed rows are purged after a week.
    confirmed_at: Mapped[datetime | None]
    #: When the last confirmation mail went out (a second subscribe does not mail again at once).
    confirm_sent_at: Mapped[datetime | None]
    #: Set when mail to the address was given up at SMTP: skipped from then on.
    bounced_at: Mapped[datetime | None]

    category: Mapped[Category | None] = relationship()
    tag: Mapped[Tag | None] = relationship()

    def __repr__(self) -> str:
        return f"<Subscriber {self.id} {self.scope} {self.frequency}>"


class SubscriptionDelivery(db.Model):
    """A mail an address was sent, keyed so that it is never sent twice (``digest:2026-W49``, ``post:42``).

    Written in the same transaction as the outbox row, so a second run (another consumer, the
    command run again, a retry after a killed worker) finds it and skips that address. Keyed on
    the address, not the subscriber row: one address following two tags gets one mail.
    """

    __tablename__ = "subscription_deliveries"
    __table_args__ = (UniqueConstraint("email", "key", name="uq_subscription_deliveries_email_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    key: Mapped[str] = mapped_column(String(40), index=True)
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("mail_messages.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    mail: Mapped[MailMessage | None] = relationship()


class PostAnnouncement(db.Model):
    """A post that went live and whose new-post mails are still to be sent (written with the publication)."""

    __tablename__ = "post_announcements"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: NULL while subscribers remain to be mailed; the every-minute task picks these up.
    done_at: Mapped[datetime | None] = mapped_column(index=True)


class DigestRun(db.Model):
    """One weekly digest (``2026-W49``) and the window of publication times it covers.

    A run cut short (a killed worker) is resumed with the same window: the addresses already
    mailed have their delivery rows, the others get the same digest.
    """

    __tablename__ = "digest_runs"

    week: Mapped[str] = mapped_column(String(10), primary_key=True)
    since: Mapped[datetime]
    until: Mapped[datetime]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    sent: Mapped[int] = mapped_column(default=0)
