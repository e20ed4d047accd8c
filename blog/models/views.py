"""Reads of a post per day: the source of truth that ``Post.views`` totals."""
from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from blog.extensions import db


class PostViewDay(db.Model):
    """How many counted reads a post had on one (UTC) day."""

    __tablename__ = "post_view_days"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
