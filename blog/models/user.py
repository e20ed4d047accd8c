"""Registered people and their roles."""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import JSON
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from blog.extensions import bcrypt
from blog.extensions import db
from blog.models.base import utcnow

if TYPE_CHECKING:
    from blog.models.post import Post

#: Roles from least to most trusted (DESIGN.md, "Roles").
ROLES = ("reader", "author", "moderator", "admin")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(20), default="reader", index=True)
    #: Random key of the avatar files under UPLOAD_FOLDER/avatars/ (services.media); None: no avatar.
    avatar: Mapped[str | None] = mapped_column(String(255))
    #: False while the worker has not yet made the resized variants of a new avatar.
    avatar_processed: Mapped[bool] = mapped_column(default=False)
    bio: Mapped[str] = mapped_column(Text, default="")
    #: {"website": url, "github": url, ...}; validated http(s) URLs only.
    social_links: Mapped[dict] = mapped_column(JSON, default=dict)
    email_confirmed: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    #: Indexed for the dashboard's registrations chart.
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: Consecutive failed logins, and the time before which no login is tried (back-off).
    failed_logins: Mapped[int] = mapped_column(default=0)
    #: Mail me about comments on my posts and replies to my comments.
    notify_comments: Mapped[bool] = mapped_column(default=True)
    locked_until: Mapped[datetime | None]
    #: Part of every session id and remember-me cookie: raising it (services.accounts.end_sessions)
    #: ends all of this user's sessions at once, on every device.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    #: The IANA zone this user reads and enters times in (services.clock); None: the site's (TIMEZONE).
    timezone: Mapped[str | None] = mapped_column(String(64))

    posts: Mapped[list[Post]] = relationship(back_populates="author", passive_deletes=True)

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    def get_id(self) -> str:
        """The session id: the user id plus a fingerprint of the password hash and the session
        version, so a password change or ``end_sessions`` ends every session and remember-me cookie."""
        return f"{self.id}.{self.session_fingerprint}"

    @property
    def session_fingerprint(self) -> str:
        return hashlib.sha256(f"{self.password_hash}:{self.session_version or 0}".encode()).hexdigest()[:16]

    def set_password(self, password: str) -> None:
        """Store a bcrypt hash of ``password`` (cost from BCRYPT_LOG_ROUNDS)."""
        self.password_hash = bcrypt.generate_password_hash(password).decode()

    def check_password(self, password: str) -> bool:
        """True when ``password`` matches the stored hash."""
        return bcrypt.check_password_hash(self.password_hash, password)

    def has_role(self, role: str) -> bool:
        """True when this user's role is ``role`` or more trusted."""
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def is_moderator(self) -> bool:
        return self.has_role("moderator")


# Usernames are unique case-insensitively, enforced by the database; the availability check
# while typing (``lower(username) = ?``) is one lookup in this index, not a scan.
Index("uq_users_username_lower", func.lower(User.username), unique=True)
