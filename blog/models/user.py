"""Registered people and their roles."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import JSON
from sqlalchemy import String
from sqlalchemy import Text
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
    avatar: Mapped[str | None] = mapped_column(String(255))
    bio: Mapped[str] = mapped_column(Text, default="")
    #: {"website": url, "github": url, ...}; validated http(s) URLs only.
    social_links: Mapped[dict] = mapped_column(JSON, default=dict)
    email_confirmed: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    posts: Mapped[list[Post]] = relationship(back_populates="author", passive_deletes=True)

    def __repr__(self) -> str:
        return f"<User {self.username}>"

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
