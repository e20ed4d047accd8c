"""Comments: threads, the rules for writing them, spam defence and moderation."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm import joinedload

from blog import signals
from blog.extensions import db
from blog.models import Comment
from blog.models import Post
from blog.models import User
from blog.models import utcnow
from blog.permissions import can_manage
from blog.services import content
from blog.services.errors import Invalid
from blog.services.errors import NotAllowed
from blog.services.errors import NotFound
from blog.services import pagecache

#: Replies nest this deep at most; deeper replies are shown at the deepest level.
MAX_DEPTH = 3
MAX_BODY = 5000
#: This many links send a comment to the queue whoever wrote it; SPAM_LINKS mark it spam.
QUEUE_LINKS = 3
SPAM_LINKS = 6
MODERATION = {"approve": "approved", "reject": "rejected", "spam": "spam"}


# --- reading ------------------------------------------------------------------------------

@dataclass
class ThreadNode:
    comment: Comment
    replies: list[ThreadNode] = field(default_factory=list)


@dataclass
class Thread:
    roots: list[ThreadNode]
    count: int  # approved, not removed: what readers see counted


def can_moderate(user, post: Post) -> bool:
    """Moderators and admins, and the post's own author, moderate its comments."""
    return can_manage(user, post.author_id)


def thread(post: Post, viewer=None) -> Thread:
    """The comments of ``post`` as a tree, in one query whatever its size.

    Everyone sees approved comments; moderators (and the post's author) also see the queue
    inline, and commenters see their own comments that wait for review.
    """
    visible = Comment.status == "approved"
    if viewer is not None and getattr(viewer, "is_authenticated", False):
        if can_moderate(viewer, post):
            visible = or_(visible, Comment.status == "pending")
        else:
            visible = or_(visible, (Comment.status == "pending") & (Comment.author_id == viewer.id))
    rows = db.session.scalars(
        select(Comment).options(joinedload(Comment.author))
        .where(Comment.post_id == post.id, visible)
        .order_by(Comment.created_at, Comment.id)
    ).all()
    nodes = {c.id: ThreadNode(c) for c in rows}
    depth: dict[int, int] = {}
    roots: list[ThreadNode] = []
    for comment in rows:  # parents come before replies: ordered by time
        node = nodes[comment.id]
        parent = nodes.get(comment.parent_id) if comment.parent_id else None
        if parent is None:
            depth[comment.id] = 1
            roots.append(node)
            continue
        # Attach too-deep replies to the deepest allowed ancestor.
        while depth[parent.comment.id] >= MAX_DEPTH:
            parent = nodes[parent.comment.parent_id]
        depth[comment.id] = depth[parent.comment.id] + 1
        parent.replies.append(node)
    count = sum(1 for c in rows if c.status == "approved" and c.deleted_at is None)
    return Thread(roots=roots, count=count)


def approved_count(post_id: int) -> int:
    """How many approved comments a post shows (one COUNT on an indexed pair)."""
    return db.session.scalar(
        select(func.count()).select_from(Comment)
        .where(Comment.post_id == post_id, Comment.status == "approved", Comment.deleted_at.is_(None))
    ) or 0


def pending_count(user) -> int:
    """Comments waiting for ``user`` to moderate: all for moderators, their posts' for authors."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_role("author"):
        return 0
    query = select(func.count()).select_from(Comment).where(Comment.status == "pending")
    if not user.has_role("moderator"):
        query = query.join(Post, Post.id == Comment.post_id).where(Post.author_id == user.id)
    return db.session.scalar(query) or 0


# --- the form's hidden fields: a submission token and when the form was shown ------------

def _stamps() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="blog.comment-form")


def form_token() -> str:
    """A signed, random token for one rendering of the comment form (time-stamped)."""
    return _stamps().dumps(secrets.token_hex(12))


def _read_token(token: str) -> tuple[str | None, float | None]:
    """The token's random part and its age in seconds, or Nones when missing or tampered."""
    try:
        value, signed_at = _stamps().loads(token or "", return_timestamp=True)
    except BadSignature:
        return None, None
    return value, (datetime.now(signed_at.tzinfo) - signed_at).total_seconds()


# --- writing ------------------------------------------------------------------------------

@dataclass
class Outcome:
    comment: Comment
    #: True when it is shown at once; False when it waits for a moderator (or was dropped as spam).
    published: bool


def _trusted(user: User, post: Post) -> bool:
    if user.id == post.author_id or user.has_role("moderator"):
        return True
    if not current_app.config["COMMENTS_REQUIRE_APPROVAL"]:
        return True
    threshold = current_app.config["COMMENTS_TRUSTED_AFTER"]
    if threshold <= 0:
        return False
    approved = db.session.scalar(select(func.count()).select_from(Comment).where(
        Comment.author_id == user.id, Comment.status == "approved"))
    return approved >= threshold


def add(post: Post, *, by: User, body: str, parent_id: int | None = None, token: str = "",
        honeypot: str = "", via_api: bool = False) -> Outcome:
    """Add a comment (or a reply) by a verified user, applying the moderation and spam rules.

    ``via_api``: sent with an API token, not the form, so there is no form token to time nor
    honeypot to check; every other rule (links, trust, the queue) applies.

    Raises:
        NotAllowed: the user may not comment, or comments are closed / the post is not public.
        Invalid: an empty or overlong body, or a parent that is missing, hidden or on another post.
    """
    if not by.email_confirmed:
        raise NotAllowed("Confirm your email address before you comment.")
    if post.status != "published":
        raise NotAllowed("Comments are open on published posts only.")
    if not post.comments_enabled:
        raise NotAllowed("Comments are closed on this post.")
    body = (body or "").strip()
    if not body:
        raise Invalid("Write something first.", {"body": ["Write something first."]})
    if len(body) > MAX_BODY:
        raise Invalid("Too long.", {"body": [f"Keep comments under {MAX_BODY:,} characters."]})
    if parent_id is not None:
        parent = db.session.get(Comment, parent_id)
        if parent is None or parent.post_id != post.id or parent.status != "approved" or parent.is_removed:
            raise Invalid("You can only reply to a comment shown on this post.",
                          {"parent_id": ["You can only reply to a comment shown on this post."]})
    submission, age = _read_token(token)
    if submission is not None:
        earlier = db.session.scalar(select(Comment).where(Comment.author_id == by.id,
                                                          Comment.submission_id == submission))
        if earlier is not None:  # a double submit: the first one stands
            return Outcome(earlier, earlier.status == "approved")
    links = content.link_count(body)
    # Bots fill the hidden field, or send the form back faster than a person can type.
    too_fast = not via_api and (age is None or age < current_app.config["COMMENT_MIN_SECONDS"])
    if honeypot.strip() or too_fast or links >= SPAM_LINKS:
        status = "spam"
    elif links >= QUEUE_LINKS or not _trusted(by, post):
        status = "pending"
    else:
        status = "approved"
    comment = Comment(post_id=post.id, author_id=by.id, parent_id=parent_id, body=body,
                      html=content.render_comment(body), status=status, submission_id=submission)
    db.session.add(comment)
    try:
        db.session.flush()
        if status == "approved":
            signals.comment_approved.send(current_app._get_current_object(), comment=comment)
        db.session.commit()
    except IntegrityError:  # the same form sent twice at once: the other request won
        db.session.rollback()
        earlier = db.session.scalar(select(Comment).where(Comment.author_id == by.id,
                                                          Comment.submission_id == submission))
        if earlier is None:
            raise
        return Outcome(earlier, earlier.status == "approved")
    _forget_widgets()
    return Outcome(comment, status == "approved")


def get(comment_id: int) -> Comment:
    """The comment with ``comment_id`` (its post and author loaded). Raises NotFound."""
    comment = db.session.scalar(select(Comment).options(joinedload(Comment.post), joinedload(Comment.author))
                                .where(Comment.id == comment_id))
    if comment is None:
        raise NotFound("There is no such comment.")
    return comment


def moderate(comment: Comment, action: str, *, by: User) -> Comment:
    """Approve, reject or mark spam. Approving announces the comment (notifications).

    Raises:
        NotAllowed: ``by`` moderates neither the site nor this post.
        Invalid: an unknown action.
    """
    if not can_moderate(by, comment.post):
        raise NotAllowed("Only moderators and the post's author moderate its comments.")
    if action not in MODERATION:
        raise Invalid("Unknown moderation action.")
    new_status = MODERATION[action]
    was = comment.status
    comment.status = new_status
    if new_status == "approved" and was != "approved" and not comment.is_removed:
        signals.comment_approved.send(current_app._get_current_object(), comment=comment)
    db.session.commit()
    _forget_widgets()
    return comment


def moderate_many(ids: list[int], action: str, *, by: User) -> list[Comment]:
    """Apply one action to several comments; those ``by`` may not moderate are left alone."""
    if action not in MODERATION:
        raise Invalid("Unknown moderation action.")
    rows = db.session.scalars(select(Comment).options(joinedload(Comment.post))
                              .where(Comment.id.in_(ids[:500]))).all()
    done = []
    for comment in rows:
        if can_moderate(by, comment.post):
            was = comment.status
            comment.status = MODERATION[action]
            if comment.status == "approved" and was != "approved" and not comment.is_removed:
                signals.comment_approved.send(current_app._get_current_object(), comment=comment)
            done.append(comment)
    db.session.commit()
    _forget_widgets()
    return done


def delete(comment: Comment, *, by: User) -> Comment | None:
    """Delete a comment: its writer, a moderator or the post's author may.

    A comment with replies stays as "comment removed" so the replies still read in context;
    returns it then, or None when the row is gone.
    """
    if not (by.id == comment.author_id or can_moderate(by, comment.post)):
        raise NotAllowed("You can only delete your own comments.")
    has_replies = db.session.scalar(select(func.count()).select_from(Comment)
                                    .where(Comment.parent_id == comment.id)) > 0
    if has_replies:
        comment.deleted_at, comment.body, comment.html = utcnow(), "", ""
        db.session.commit()
        _forget_widgets()
        return comment
    db.session.delete(comment)
    db.session.commit()
    _forget_widgets()
    return None


def _forget_widgets() -> None:
    pagecache.invalidate(pagecache.LISTINGS)


# --- the moderation queue -----------------------------------------------------------------

QUEUE_PER_PAGE = 25


def _visible_to(user: User, query: Select) -> Select:
    """Moderators see every comment; authors only those on their own posts (``Post`` must be joined)."""
    return query if user.has_role("moderator") else query.where(Post.author_id == user.id)


def queue(user: User, status: str, post_slug: str, number: int) -> Pagination:
    """One page of comments in ``status``, newest first, with authors and posts: a count and one query."""
    query = (select(Comment).join(Comment.post)
             .options(contains_eager(Comment.post), joinedload(Comment.author))
             .where(Comment.status == status)
             .order_by(Comment.created_at.desc(), Comment.id.desc()))
    if post_slug:
        query = query.where(Post.slug == post_slug)
    query = _visible_to(user, query)
    page = db.paginate(query, page=number, per_page=QUEUE_PER_PAGE, error_out=False)
    if page.pages and number > page.pages:  # past the end, e.g. once the last page was cleared
        page = db.paginate(query, page=page.pages, per_page=QUEUE_PER_PAGE, error_out=False)
    return page


def queue_posts(user: User, status: str, selected: str) -> list[tuple[str, str]]:
    """The posts with comments in ``status`` (and the selected one), as ``(slug, title)`` by title."""
    with_comments = select(Comment.post_id).where(Comment.status == status)
    query = select(Post.slug, Post.title).where(or_(Post.id.in_(with_comments), Post.slug == selected))
    rows = db.session.execute(_visible_to(user, query).order_by(Post.title, Post.id))
    return [(slug, title) for slug, title in rows]


# --- sidebar ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecentComment:
    id: int
    author: str
    excerpt: str
    post_title: str
    post_slug: str


@pagecache.memoize(pagecache.LISTINGS, timeout=60)
def recent(limit: int = 5) -> list[RecentComment]:
    """The newest approved comments on published posts (for the sidebar), in one query."""
    rows = db.session.execute(
        select(Comment.id, User.username, Comment.body, Post.title, Post.slug)
        .join(Post, Post.id == Comment.post_id)
        .outerjoin(User, User.id == Comment.author_id)
        .where(Comment.status == "approved", Comment.deleted_at.is_(None), Post.status == "published")
        .order_by(Comment.created_at.desc(), Comment.id.desc())
        .limit(limit)
    ).all()
    return [RecentComment(cid, name or "deleted user", _excerpt(body), title, slug)
            for cid, name, body, title, slug in rows]


def _excerpt(text: str, length: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[:length].rsplit(" ", 1)[0] + "…"
