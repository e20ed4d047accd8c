"""The writer's own posts (/my/posts): every status of theirs, counted per tab, searchable by title.

Four queries whatever the number of posts: the tab counts (one GROUP BY), the page's count,
its ids, and its rows; plus one for the moderators' notes on the page's sent-back drafts.
Posts and pages alike (a page is the writer's work too); only the writer's own, also for
moderators (everyone's is /admin/posts).
"""
from __future__ import annotations

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import defer
from sqlalchemy.orm import joinedload

from blog.extensions import db
from blog.models import Activity
from blog.models import Post
from blog.models import User
from blog.services import paging

#: The tabs, in the order of a post's life.
TABS = ("draft", "pending", "scheduled", "published", "archived")
PER_PAGE = 20
MAX_QUERY = 200


def clean_status(value: str | None) -> str:
    """One of TABS (drafts for anything else)."""
    return value if value in TABS else "draft"


def clean_query(value: str | None) -> str:
    """The title search, trimmed and bounded."""
    return " ".join((value or "").split())[:MAX_QUERY]


def _conditions(user: User, q: str) -> list:
    where = [Post.author_id == user.id]
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(func.lower(Post.title).like(f"%{escaped.lower()}%", escape="\\"))
    return where


def tab_counts(user: User, q: str = "") -> dict[str, int]:
    """How many of ``user``'s posts each tab holds (under the same title search): one GROUP BY."""
    query = select(Post.status, func.count()).where(*_conditions(user, q)).group_by(Post.status)
    found = dict(db.session.execute(query).all())
    return {status: found.get(status, 0) for status in TABS}


def listing(user: User, status: str = "draft", q: str = "", number: int = 1, per_page: int = PER_PAGE) -> Pagination:
    """One page of ``user``'s posts in ``status``: scheduled ones soonest first, the others latest change first.

    A page past the last gives the last (ix_posts_author_status_updated / _published serve the orders).
    """
    status = clean_status(status)
    where = [*_conditions(user, q), Post.status == status]
    if status == "scheduled":
        order = (Post.published_at.asc(), Post.id.asc())
    else:
        order = (Post.updated_at.desc(), Post.id.desc())
    rows = select(Post).options(defer(Post.body), defer(Post.html), joinedload(Post.category))
    return paging.paginate(ids=select(Post.id).where(*where).order_by(*order),
                           count=select(func.count()).select_from(Post).where(*where),
                           load=lambda ids: paging.in_order(rows, Post.id, ids), page=number, per_page=per_page)


def sent_back_notes(posts: list[Post]) -> dict[int, Activity]:
    """The latest moderator's "sent back" note of each draft in ``posts``, by post id: one query (none if no draft)."""
    ids = [post.id for post in posts if post.status == "draft"]
    if not ids:
        return {}
    latest = (select(func.max(Activity.id)).where(Activity.post_id.in_(ids), Activity.action == "post.sent_back")
              .group_by(Activity.post_id))
    notes = db.session.scalars(select(Activity).where(Activity.id.in_(latest)))
    return {note.post_id: note for note in notes}
