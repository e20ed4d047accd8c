"""The archive index: every year and month that has published posts, with counts."""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Post


@dataclass
class Year:
    """A year of the archive and its months (newest first)."""

    year: int
    count: int = 0
    months: list[tuple[int, int]] = field(default_factory=list)  # (month, count)


def years() -> list[Year]:
    """Every year with published posts, newest first, each with its months and counts (one grouped query)."""
    year, month = func.extract("year", Post.published_at), func.extract("month", Post.published_at)
    found: dict[int, Year] = {}
    for y, m, count in db.session.execute(
            select(year, month, func.count()).where(Post.status == "published", Post.published_at.is_not(None))
            .group_by(year, month).order_by(year.desc(), month.desc())):
        entry = found.setdefault(int(y), Year(int(y)))
        entry.count += count
        entry.months.append((int(m), count))
    return list(found.values())
