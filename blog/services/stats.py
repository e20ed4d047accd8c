"""Site-wide counts for the admin dashboard."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Category
from blog.models import Comment
from blog.models import MailMessage
from blog.models import Post
from blog.models import User
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
