"""Site-wide counts, queues and 30-day charts for the admin dashboard."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Category
from blog.models import Comment
from blog.models import MailMessage
from blog.models import Post
from blog.models import User
from blog.models import utcnow
from blog.models.comment import COMMENT_STATUSES
from blog.models.post import STATUSES
from blog.models.user import ROLES


@dataclass
class SiteCounts:
    users: dict[str, int]  # by role, plus "all"
    posts: dict[str, int]  # by status, plus "all"
    comments: dict[str, int]  # by status, plus "all"
    unsent_mail: int
    categories: int


def site_counts() -> SiteCounts:
    """Users by role, posts and comments by status, unsent mail and categories: four queries."""

    def grouped(column, names: tuple[str, ...]) -> dict[str, int]:
        found = dict(db.session.execute(select(column, func.count()).group_by(column)).all())
        return {name: found.get(name, 0) for name in names} | {"all": sum(found.values())}

    unsent_mail, categories = db.session.execute(select(
        select(func.count()).select_from(MailMessage).where(MailMessage.sent_at.is_(None)).scalar_subquery(),
        select(func.count()).select_from(Category).scalar_subquery(),
    )).one()
    return SiteCounts(users=grouped(User.role, ROLES), posts=grouped(Post.status, STATUSES),
                      comments=grouped(Comment.status, COMMENT_STATUSES), unsent_mail=unsent_mail,
                      categories=categories)


# --- the dashboard: queues, 30-day charts, the week's most-read posts ---------------------------

CHART_DAYS = 30


@dataclass
class Chart:
    key: str
    title: str
    #: One (day, number) per day, oldest first, days without any included as 0.
    days: list[tuple[date, int]]

    @property
    def total(self) -> int:
        return sum(number for _, number in self.days)

    @property
    def peak(self) -> int:
        return max((number for _, number in self.days), default=0)


@dataclass(frozen=True)
class MostRead:
    title: str
    slug: str
    views: int


def _days(today: date) -> list[date]:
    return [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]


def _per_day(column, *where, value=None, today: date | None = None) -> list[tuple[date, int]]:
    """One aggregate query: ``count(*)`` (or ``sum(value)``) per UTC day of ``column`` over the last 30 days."""
    today = today or utcnow().date()
    start = today - timedelta(days=CHART_DAYS - 1)
    # A date column groups as it is (its index serves the range); a timestamp by its UTC day.
    day = column if column.type.python_type is date else func.date(column)
    total = func.count() if value is None else func.sum(value)
    since = datetime.combine(start, datetime.min.time()) if column.type.python_type is datetime else start
    rows = db.session.execute(select(day, total).where(column >= since, *where).group_by(day)).all()
    # SQLite's date() gives text, PostgreSQL's a date: compare as ISO text.
    found = {str(key)[:10]: int(number or 0) for key, number in rows}
    return [(moment, found.get(moment.isoformat(), 0)) for moment in _days(today)]


def charts(*, admin: bool, today: date | None = None) -> list[Chart]:
    """The 30-day charts: posts published, comments, views (and registrations, for admins). One query each."""
    from blog.models import PostViewDay

    now = utcnow()
    result = [
        Chart("posts", "Posts published", _per_day(Post.published_at, Post.status.in_(("published", "archived")),
                                                   Post.published_at <= now, today=today)),
        Chart("comments", "Comments", _per_day(Comment.created_at, today=today)),
        Chart("views", "Views", _per_day(PostViewDay.day, value=PostViewDay.views, today=today)),
    ]
    if admin:
        result.append(Chart("users", "Registrations", _per_day(User.created_at, today=today)))
    return result


def most_read(days: int = 7, limit: int = 5, today: date | None = None) -> list[MostRead]:
    """The most-read published posts of the last ``days`` days: one aggregate query."""
    from blog.models import PostViewDay

    start = (today or utcnow().date()) - timedelta(days=days - 1)
    total = func.sum(PostViewDay.views).label("total")
    rows = db.session.execute(
        select(Post.title, Post.slug, total).join(PostViewDay, PostViewDay.post_id == Post.id)
        .where(PostViewDay.day >= start, Post.status == "published")
        .group_by(Post.id, Post.title, Post.slug).order_by(total.desc(), Post.id.desc()).limit(limit)).all()
    return [MostRead(title, slug, int(views)) for title, slug, views in rows]
