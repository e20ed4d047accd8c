"""The moderation history: every admin or moderator action, recorded with the change it describes."""
from __future__ import annotations

from collections.abc import Iterable

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from blog.extensions import db
from blog.models import Activity
from blog.models import User
from blog.models import utcnow
from blog.models.activity import ACTIONS

PER_PAGE = 50
#: What the activity page filters on.
KINDS = ("post", "comment", "user")


def record(by: User, action: str, subject: str, *, post_id: int | None = None, user_id: int | None = None,
           comment_id: int | None = None, detail: str = "") -> None:
    """Add one line to the history in the caller's transaction (the caller commits it with the change)."""
    record_many(by, action, [dict(subject=subject, post_id=post_id, user_id=user_id, comment_id=comment_id,
                                  detail=detail)])


def record_many(by: User, action: str, rows: Iterable[dict]) -> None:
    """Add one line per row (``subject`` and any of ``post_id``, ``user_id``, ``comment_id``, ``detail``)
    with a single INSERT, in the caller's transaction."""
    if action not in ACTIONS:
        raise ValueError(f"unknown activity {action!r}")
    now = utcnow()
    values = [{"created_at": now, "actor_id": by.id, "actor_name": by.username, "action": action,
               "subject": (row["subject"] or "")[:300], "post_id": row.get("post_id"),
               "user_id": row.get("user_id"), "comment_id": row.get("comment_id"),
               "detail": row.get("detail") or ""} for row in rows]
    if values:
        db.session.execute(insert(Activity), values)


def page(number: int = 1, *, kind: str = "", post_id: int | None = None, user_id: int | None = None,
         actor_id: int | None = None) -> Pagination:
    """One page of the history, newest first: a count and one query."""
    query = select(Activity).order_by(Activity.created_at.desc(), Activity.id.desc())
    if kind in KINDS:
        query = query.where(Activity.action.like(f"{kind}.%"))
    if post_id is not None:
        query = query.where(Activity.post_id == post_id)
    if user_id is not None:
        query = query.where(Activity.user_id == user_id)
    if actor_id is not None:
        query = query.where(Activity.actor_id == actor_id)
    found = db.paginate(query, page=number, per_page=PER_PAGE, error_out=False)
    if found.pages and number > found.pages:
        found = db.paginate(query, page=found.pages, per_page=PER_PAGE, error_out=False)
    return found


def latest(*, post_ids: Iterable[int] = (), user_ids: Iterable[int] = ()) -> dict[int, Activity]:
    """The newest line about each of these posts (or users), in one query: what their admin rows show."""
    column = Activity.post_id if post_ids else Activity.user_id
    ids = list(post_ids or user_ids)
    if not ids:
        return {}
    newest = (select(column.label("target"), func.max(Activity.id).label("id"))
              .where(column.in_(ids)).group_by(column).subquery())
    rows = db.session.scalars(select(Activity).join(newest, newest.c.id == Activity.id))
    return {getattr(row, column.key): row for row in rows}
