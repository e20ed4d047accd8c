"""The mail outbox: every message is stored with the change that caused it, then sent by a task."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from blog.extensions import db
from blog.models.base import utcnow


class MailMessage(db.Model):
    __tablename__ = "mail_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What kind of mail (``verify_email``, ``password_reset`` ...), for logs and tests.
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: NULL until delivered; the periodic re-send looks for old unsent rows.
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    #: When the next attempt may start: after a failure, its back-off; while a worker sends, the end
    #: of its claim. NULL: never tried. The every-minute re-send queues rows whose time has come.
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    #: Set when the message is given up (MAIL_GIVE_UP_HOURS or MAIL_MAX_ATTEMPTS reached).
    failed_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(Text, default="")
    #: Extra headers for bulk mail (``List-Unsubscribe``, ``List-Unsubscribe-Post``), name to value.
    headers: Mapped[dict] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"<MailMessage {self.id} {self.kind} to {self.recipient}>"
