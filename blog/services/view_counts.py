"""Read counts: each counted read adds to its post's row for the day; ``Post.views`` is their total.

The day rows are the source of truth, so ``recalculate`` (``flask recalculate-views``) can always
rebuild the totals, and running it twice changes nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from blog.extensions import db
from blog.models import Post
from blog.models import PostViewDay
from blog.models import utcnow

BATCH = 1000


def tally(post_id: int, day: date | None = None, reads: int = 1) -> None:
    """Add ``reads`` to the row of ``post_id`` for ``day`` (today): one atomic upsert; the caller commits.

    The same rows feed the dashboard's views chart and the week's most-read posts.
    """
    dialect = sqlite if db.engine.dialect.name == "sqlite" else postgresql
    statement = dialect.insert(PostViewDay).values(post_id=post_id, day=day or utcnow().date(), views=reads)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=[PostViewDay.post_id, PostViewDay.day], set_={"views": PostViewDay.views + reads}))


def recalculate(progress: Callable[[int], None] | None = None) -> int:
    """Set every post's ``views`` to the sum of its day rows; how many posts changed.

    A post counted before day rows existed (a total but no rows at all) first gets one row with that
    total on its publication day, so its history is kept rather than zeroed.
    """
    counted = select(PostViewDay.post_id).where(PostViewDay.post_id == Post.id).exists()
    db.session.execute(insert(PostViewDay).from_select(
        ["post_id", "day", "views"],
        select(Post.id, func.date(func.coalesce(Post.published_at, Post.created_at)), Post.views)
        .where(Post.views > 0, ~counted)))
    db.session.commit()
    changed, after = 0, 0
    while True:
        ids = list(db.session.scalars(select(Post.id).where(Post.id > after).order_by(Post.id).limit(BATCH)))
        if not ids:
            return changed
        total = (select(func.coalesce(func.sum(PostViewDay.views), 0)).where(PostViewDay.post_id == Post.id)
                 .scalar_subquery())
        result = db.session.execute(update(Post).where(Post.id.in_(ids), Post.views != total).values(views=total)
                                    .execution_options(synchronize_session=False))
        db.session.commit()
        changed += result.rowcount or 0
        if progress:
            progress(len(ids))
        after = ids[-1]


def post_count() -> int:
    """How many posts there are (for progress bars)."""
    return db.session.scalar(select(func.count()).select_from(Post)) or 0
