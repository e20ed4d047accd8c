"""The archive: every year and month that has published posts, in the site's time zone.

A month is the site's month (``TIMEZONE``): a post published at 00:30 on 1 January in Berlin
(23:30 UTC on 31 December) is in January, on the archive index, in the sidebar and on
``/archive/<year>/<month>``, as the time on its card says. Guests' pages are shared, so the
periods are the site's, whoever reads them.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from blog.extensions import db
from blog.models import Post
from blog.services import clock


@dataclass
class Year:
    """A year of the archive and its months (newest first)."""

    year: int
    count: int = 0
    months: list[tuple[int, int]] = field(default_factory=list)  # (month, count)


def _public():
    return Post.status == "published", Post.kind == "post", Post.published_at.is_not(None)


def month_counts() -> list[tuple[int, int, int]]:
    """(year, month, posts) for every month with published posts, newest first, in the site's zone.

    One grouped query by UTC month; away from UTC a second one reads the posts published on a
    month's first or last days (the only ones whose month can differ: no zone is more than 14
    hours from UTC) and moves each whose local month is another.
    """
    year, month = func.extract("year", Post.published_at), func.extract("month", Post.published_at)
    counts = Counter({(int(y), int(m)): n for y, m, n in db.session.execute(
        select(year, month, func.count()).where(*_public()).group_by(year, month))})
    zone = clock.site_zone()
    if zone.key != "UTC":
        day = func.extract("day", Post.published_at)
        for (when,) in db.session.execute(select(Post.published_at).where(*_public(), or_(day == 1, day >= 28))):
            local = clock.to_local(when, zone)
            if (local.year, local.month) != (when.year, when.month):
                counts[(when.year, when.month)] -= 1
                counts[(local.year, local.month)] += 1
    return sorted(((y, m, n) for (y, m), n in counts.items() if n > 0), reverse=True)


def years() -> list[Year]:
    """Every year with published posts, newest first, each with its months and counts."""
    found: dict[int, Year] = {}
    for y, m, count in month_counts():
        entry = found.setdefault(y, Year(y))
        entry.count += count
        entry.months.append((m, count))
    return list(found.values())


def _boundary(local: datetime) -> datetime:
    try:
        return clock.boundary_to_utc(local, clock.site_zone())
    except OverflowError:  # year 1 east of UTC, or 9999 west of it
        return datetime.min if local.year < 5000 else datetime.max


def period(year: int, month: int | None = None) -> tuple[datetime, datetime]:
    """The [start, end) instants (naive UTC) of a year or a month of the site. Raises NotFound for impossible dates."""
    if not 1 <= year <= 9998 or (month is not None and not 1 <= month <= 12):
        raise NotFound("There is no such period.")
    if month is None:
        return _boundary(datetime(year, 1, 1)), _boundary(datetime(year + 1, 1, 1))
    end = datetime(year + 1, 1, 1) if month == 12 else datetime(year, month + 1, 1)
    return _boundary(datetime(year, month, 1)), _boundary(end)
