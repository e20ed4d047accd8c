"""Reviewing posts (moderators and admins): the /admin/posts list, publish, send back, archive, delete.

Every action re-checks the role, acts only on posts whose *current* status allows it (a post
another moderator changed a moment ago is skipped and reported, never changed twice), changes
state with one UPDATE for any number of posts, and records who did it in the history.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from flask import current_app
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import case
from sqlalchemy import delete as sql_delete
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import defer
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from blog import signals
from blog.extensions import db
from blog.models import Category
from blog.models import Comment
from blog.models import Post
from blog.models import PostRedirect
from blog.models import User
from blog.models import utcnow
from blog.models.base import is_row_id
from blog.models.post import STATUSES
from blog.services import activity
from blog.services import taxonomy
from blog.services.errors import Invalid
from blog.services.errors import NotAllowed
from blog.services.errors import NotFound

#: The tabs of /admin/posts, in order: the queue first.
TABS = ("pending", "draft", "scheduled", "published", "archived")
PER_PAGE = 25
#: A bulk request acts on at most this many posts.
MAX_BULK = 1000
MAX_REASON = 2000
#: Ids are 32-bit on every database we run; larger numbers name no row.
#: Which current statuses each action accepts.
ALLOWED_FROM = {
    "publish": ("pending", "scheduled", "archived"),
    "send_back": ("pending", "scheduled", "published"),
    "archive": ("published",),
    "delete": STATUSES,
}
DONE = {"publish": "Published", "send_back": "Sent back", "archive": "Archived", "delete": "Deleted"}


def check_reviewer(user: User) -> None:
    """Raise NotAllowed unless ``user`` is a moderator or an admin."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_role("moderator"):
        raise NotAllowed("Only moderators and admins review posts.")


def may_act_on(user: User, post: Post) -> bool:
    """Moderators act on everyone's posts but admins'; admins on all."""
    return user.has_role("admin") or not post.author.has_role("admin")


# --- the list ---------------------------------------------------------------------------------

@dataclass
class Filters:
    status: str = "pending"
    q: str = ""
    author: str = ""
    category: int | None = None


def _conditions(filters: Filters) -> list:
    """The search and filters as WHERE conditions on ``posts`` alone (no join: counts stay index scans)."""
    where = []
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(func.lower(Post.title).like(f"%{escaped.lower()}%", escape="\\"))
    if filters.author:
        where.append(Post.author_id == select(User.id).where(User.username == filters.author).scalar_subquery())
    if filters.category is not None:
        category = db.session.get(Category, filters.category) if is_row_id(filters.category) else None
        where.append(Post.category_id.in_(taxonomy.subtree_ids(category)) if category else false())
    return where


def listing(user: User, filters: Filters, number: int = 1, per_page: int = PER_PAGE, *,
            with_tags: bool = False) -> Pagination:
    """One page of posts in ``filters.status`` with their authors and categories: three queries at any depth
    (and one more for the tags with ``with_tags``). A page past the last gives the last.

    The queue (pending) lists the longest-waiting first; the other tabs the latest change first
    (ix_posts_status_updated_at gives both orders without sorting).
    """
    from blog.services import paging

    check_reviewer(user)
    where = [Post.status == filters.status, *_conditions(filters)]
    order = (Post.updated_at.asc(), Post.id.asc()) if filters.status == "pending" else (Post.updated_at.desc(), Post.id.desc())
    rows = select(Post).options(defer(Post.body), defer(Post.html), joinedload(Post.category), joinedload(Post.author))
    if with_tags:
        rows = rows.options(selectinload(Post.tags))
    return paging.paginate(ids=select(Post.id).where(*where).order_by(*order),
                           count=select(func.count()).select_from(Post).where(*where),
                           load=lambda ids: paging.in_order(rows, Post.id, ids), page=number, per_page=per_page)


def tab_counts(user: User, filters: Filters) -> dict[str, int]:
    """How many posts each tab holds under the same search and filters: one GROUP BY."""
    check_reviewer(user)
    query = select(Post.status, func.count()).where(*_conditions(filters)).group_by(Post.status)
    found = dict(db.session.execute(query).all())
    return {status: found.get(status, 0) for status in TABS}


# --- acting -----------------------------------------------------------------------------------

@dataclass
class Outcome:
    action: str
    #: The posts changed (deleted ones are detached, with their last state).
    done: list[Post] = field(default_factory=list)
    #: Post id -> why it was left alone ("already published", "an admin's post", "gone").
    skipped: dict[int, str] = field(default_factory=dict)
    #: Every post found, changed or not, by id (for answering with a row's current state).
    found: dict[int, Post] = field(default_factory=dict)


def act(ids: list[int], action: str, *, by: User, reason: str = "", expected: str | None = None,
        commit: bool = True) -> Outcome:
    """Publish, send back, archive or delete the posts ``ids`` (one or up to MAX_BULK).

    ``expected``: the status the caller saw (the tab the rows were ticked in); a post whose
    status is no longer that is left alone. A pending post with a future publication time is
    scheduled rather than published (a scheduled post goes live now). Writers are mailed when
    their post is published or sent back.

    ``commit=False`` (deleting only): leave the transaction open for the caller, who then
    calls ``after_delete(outcome)`` once it committed.

    Raises:
        NotAllowed: ``by`` is not a moderator or admin.
        Invalid: an unknown action, too many ids, or a send-back without a reason.
    """
    check_reviewer(by)
    if action not in ALLOWED_FROM:
        raise Invalid("Unknown action.")
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_BULK:
        raise Invalid(f"Act on at most {MAX_BULK:,} posts at once.")
    reason = (reason or "").strip()
    if action == "send_back":
        if not reason:
            raise Invalid("Say what the writer should change.", {"reason": ["Say what the writer should change."]})
        if len(reason) > MAX_REASON:
            raise Invalid("Too long.", {"reason": [f"Keep the note under {MAX_REASON:,} characters."]})
    outcome = Outcome(action)
    if not ids:
        return outcome
    posts = db.session.scalars(select(Post).options(joinedload(Post.author), selectinload(Post.tags))
                               .where(Post.id.in_([i for i in ids if is_row_id(i)]))).unique().all()
    outcome.found = {post.id: post for post in posts}
    eligible = []
    for post_id in ids:
        post = outcome.found.get(post_id)
        if post is None:
            outcome.skipped[post_id] = "gone"
        elif not may_act_on(by, post):
            outcome.skipped[post_id] = "an admin's post"
        elif post.status not in ALLOWED_FROM[action] or (expected and post.status != expected):
            outcome.skipped[post_id] = f"already {post.status}"
        else:
            eligible.append(post)
    if not eligible:
        return outcome
    if action == "delete":
        _delete(eligible, by, outcome)
        if commit:
            db.session.commit()
            after_delete(outcome)
    else:
        _change(eligible, action, by, reason, outcome)
    return outcome


def _change(eligible: list[Post], action: str, by: User, reason: str, outcome: Outcome) -> None:
    """One UPDATE for every eligible post, guarded by their status (a concurrent change wins)."""
    now = utcnow()
    if action == "publish":
        # A pending post with a future time is approved for that time; a scheduled post goes live
        # now; an archived one comes back with its original date.
        later = (Post.status == "pending") & Post.published_at.is_not(None) & (Post.published_at > now)
        keep_date = later | ((Post.status == "archived") & Post.published_at.is_not(None))
        values = {"status": case((later, "scheduled"), else_="published"),
                  "published_at": case((keep_date, Post.published_at), else_=now)}
    elif action == "send_back":
        values = {"status": "draft", "published_at": None}
    else:
        values = {"status": "archived"}
    by_id = {post.id: post for post in eligible}
    statement = (update(Post).where(Post.id.in_(by_id), Post.status.in_(ALLOWED_FROM[action]))
                 .values(updated_at=now, **values).returning(Post.id, Post.status, Post.published_at)
                 .execution_options(synchronize_session=False))
    rows = db.session.execute(statement).all()
    changed = {row.id for row in rows}
    for row in rows:
        post = by_id[row.id]
        set_committed_value(post, "status", row.status)
        set_committed_value(post, "published_at", row.published_at)
        set_committed_value(post, "updated_at", now)
        outcome.done.append(post)
    for post in eligible:
        if post.id not in changed:
            outcome.skipped[post.id] = "changed meanwhile"
    sender = current_app._get_current_object()
    from blog.services import mail

    for post in outcome.done:
        if action == "publish" and post.status == "published":
            signals.post_published.send(sender, post=post)
        signals.post_updated.send(sender, post=post)
        if post.author_id != by.id and post.author.is_active and action in ("publish", "send_back"):
            _mail_writer(mail, post, action, by, reason)
    kind = {"publish": "post.published", "send_back": "post.sent_back", "archive": "post.archived"}[action]
    lines = [dict(subject=post.title, post_id=post.id, user_id=post.author_id, detail=reason) for post in outcome.done]
    if action == "publish":
        scheduled = [line for line, post in zip(lines, outcome.done) if post.status == "scheduled"]
        activity.record_many(by, "post.scheduled", scheduled)
        lines = [line for line, post in zip(lines, outcome.done) if post.status != "scheduled"]
    activity.record_many(by, kind, lines)
    db.session.commit()
    taxonomy.clear_widgets()
    if action == "publish" and any(post.status == "scheduled" for post in outcome.done):
        _schedule(min(post.published_at for post in outcome.done if post.status == "scheduled"))


def _mail_writer(mail, post: Post, action: str, by: User, reason: str) -> None:
    writer = post.author
    if action == "publish":
        scheduled = post.status == "scheduled"
        subject = (f"“{post.title}” is approved and scheduled" if scheduled else f"“{post.title}” is published")
        mail.compose("post_published", writer.email, "post_published", subject, user=writer, post=post,
                     moderator=by.username, scheduled=scheduled,
                     post_url=mail.absolute_url("posts.detail", slug=post.slug))
    else:
        mail.compose("post_sent_back", writer.email, "post_sent_back", f"“{post.title}” needs changes",
                     user=writer, post=post, moderator=by.username, reason=reason,
                     edit_url=mail.absolute_url("posts.edit", slug=post.slug))


def _schedule(when) -> None:
    """Ask the worker to publish on time (the every-minute task is the safety net)."""
    import logging

    from blog import tasks

    try:
        tasks.publish_scheduled_posts.schedule(eta=when)
    except Exception:  # the queue being down must not fail a committed change
        logging.getLogger(__name__).warning("could not schedule publication at %s", when, exc_info=True)


def _delete(eligible: list[Post], by: User, outcome: Outcome) -> None:
    """Delete the posts with their comments, tag links and redirects: a few statements for any number."""
    from blog.models import post_tags

    ids = [post.id for post in eligible]
    activity.record_many(by, "post.deleted", [dict(subject=post.title, user_id=post.author_id) for post in eligible])
    db.session.execute(update(Comment).where(Comment.post_id.in_(ids)).values(parent_id=None)
                       .execution_options(synchronize_session=False))
    db.session.execute(sql_delete(Comment).where(Comment.post_id.in_(ids)).execution_options(synchronize_session=False))
    db.session.execute(sql_delete(PostRedirect).where(PostRedirect.post_id.in_(ids))
                       .execution_options(synchronize_session=False))
    db.session.execute(post_tags.delete().where(post_tags.c.post_id.in_(ids)))
    for post in eligible:
        db.session.expunge(post)  # the rows go below; the objects stay readable for the answer
    db.session.execute(sql_delete(Post).where(Post.id.in_(ids)).execution_options(synchronize_session=False))
    outcome.done.extend(eligible)


def after_delete(outcome: Outcome) -> None:
    """Once the deletion is committed: remove cover files, announce it, refresh the widgets."""
    from blog.services import media

    sender = current_app._get_current_object()
    for post in outcome.done:
        media.discard_cover(post.cover_image)
        signals.post_deleted.send(sender, post_id=post.id, slug=post.slug)
    taxonomy.clear_widgets()


def get(post_id: int) -> Post:
    """The post with ``post_id`` and its author. Raises NotFound."""
    post = (db.session.scalar(select(Post).options(joinedload(Post.author)).where(Post.id == post_id))
            if is_row_id(post_id) else None)
    if post is None:
        raise NotFound("There is no such post.")
    return post


def pending_count() -> int:
    """Posts waiting for review (the dashboard's first queue)."""
    return db.session.scalar(select(func.count()).select_from(Post).where(Post.status == "pending")) or 0


def sent_back_note(post: Post):
    """The latest "sent back" line of a draft, for its writer to read on the post (None otherwise): one query."""
    from blog.models import Activity

    if post is None or post.status != "draft" or post.id is None:
        return None
    return db.session.scalar(select(Activity).where(Activity.post_id == post.id, Activity.action == "post.sent_back")
                             .order_by(Activity.created_at.desc(), Activity.id.desc()).limit(1))
