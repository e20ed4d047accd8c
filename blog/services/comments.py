"""Comments: threads, the rules for writing them, spam defence and moderation."""
from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from flask import current_app
from markupsafe import Markup
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select
from sqlalchemy.orm import aliased
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from blog import signals
from blog.extensions import db
from blog.models import Activity
from blog.models import Comment
from blog.models import Post
from blog.models import User
from blog.models import utcnow
from blog.models.base import is_row_id
from blog.permissions import can_manage
from blog.services import activity
from blog.services import content
from blog.services.errors import Invalid
from blog.services.errors import NotAllowed
from blog.services.errors import NotFound
from blog.services import pagecache
from blog.services.rows import CommentRow
from blog.services.rows import comment_row
from blog.services.rows import comment_rows
from blog.services.rows import comment_select
from blog.services.rows import read

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
    comment: CommentRow
    replies: list[ThreadNode] = field(default_factory=list)


@dataclass
class Thread:
    roots: list[ThreadNode]
    count: int  # approved, not removed: what readers see counted
    #: Top-level comments come ``per_page`` at a time (replies stay with theirs); ``page`` of ``pages``.
    page: int = 1
    pages: int = 1
    per_page: int = 100

    @property
    def older(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def newer(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None


def can_moderate(user, post: Post) -> bool:
    """Moderators and admins, and the post's own author, moderate its comments."""
    return can_manage(user, post.author_id)


def _visible(post: Post, viewer, table=Comment):
    """Which comments of ``post`` ``viewer`` sees, as a condition on ``table`` (Comment or an alias)."""
    visible = table.status == "approved"
    if viewer is not None and getattr(viewer, "is_authenticated", False):
        if can_moderate(viewer, post):
            visible = or_(visible, table.status == "pending")
        else:
            visible = or_(visible, (table.status == "pending") & (table.author_id == viewer.id))
    return visible


# Made once: a fresh alias per request rebuilds (and memoises again) every column expression on it.
_PARENT = aliased(Comment, name="parent_comment")
_CHILD = aliased(Comment, name="child_comment")


def _roots(post: Post, viewer):
    """Conditions for the comments shown at the top level: no parent, or one the viewer cannot see
    (a reply to a rejected comment stands on its own, as ``thread`` has always drawn it)."""
    return _roots_for(Comment.post_id == post.id, lambda table: _visible(post, viewer, table))


def _roots_for(of_post, visible):
    parent = _PARENT
    shown_parent = select(parent.id).where(parent.id == Comment.parent_id, visible(parent))
    return [of_post, visible(Comment), or_(Comment.parent_id.is_(None), ~shown_parent.exists())]


def per_page() -> int:
    return max(1, current_app.config["COMMENTS_PER_PAGE"])


def thread(post: Post, viewer=None, page: int | None = None, *, paginate: bool = True) -> Thread:
    """One page of the comments of ``post`` as a tree: its top-level comments, ``per_page()`` at a
    time oldest first, each with all its replies. ``page`` None is the last (newest) page, where a
    new comment goes; a page past the last gives the last. Two queries whatever the size: the
    counts, then the page's comments (a recursive CTE from its top-level ones down their replies);
    for a guest, one when the thread fits a page (the counts ride along with its first rows).
    ``paginate=False``: the whole thread as one page (the API's contract).

    Everyone sees approved comments; moderators (and the post's author) also see the queue
    inline, and commenters see their own comments that wait for review.
    """
    size = per_page()
    guest = not (viewer is not None and getattr(viewer, "is_authenticated", False))
    roots_where = None if guest else _roots(post, viewer)
    if guest and paginate:  # the common case, in statements built once
        # The counts and up to one more than a page of comments: most threads are all there.
        statement, width = _guest_first_page(size)
        first = read(statement, {"post_id": post.id}).all()
        if len(first) <= size:
            return _tree([comment_row(row) for row in first], first[0][width + 1] if first else 0, 1, 1, size)
        n_roots, count = first[0][width:]
    elif guest:
        n_roots, count = db.session.execute(_guest_statements()[0], {"post_id": post.id}).one()
    else:
        n_roots, count = db.session.execute(_counts(roots_where, Comment.post_id == post.id)).one()
    pages = max(1, -(-n_roots // size)) if paginate else 1
    page = pages if page is None else min(max(1, page), pages)
    if pages == 1 and guest:
        return _tree(comment_rows(_guest_statements()[1], {"post_id": post.id}), count, page, pages, size)
    if pages == 1:  # most threads: every comment the viewer sees, no tree walk needed
        shown = [Comment.post_id == post.id, _visible(post, viewer)]
    else:
        roots_where = roots_where or _roots(post, viewer)
        page_roots = (select(Comment.id).where(*roots_where).order_by(Comment.created_at, Comment.id)
                      .limit(size).offset((page - 1) * size))
        tree = select(Comment.id).where(Comment.id.in_(page_roots)).cte("thread", recursive=True)
        child = _CHILD
        # UNION, not UNION ALL: a (corrupt) cycle of parents still ends.
        tree = tree.union(select(child.id).where(child.parent_id == tree.c.id, child.post_id == post.id,
                                                 _visible(post, viewer, child)))
        shown = [Comment.id.in_(select(tree.c.id))]
    return _tree(comment_rows(_shown(shown)), count, page, pages, size)


def _count_queries(roots_where, of_post):
    """(top-level comments the viewer sees, approved comments readers see counted)."""
    return (select(func.count()).select_from(Comment).where(*roots_where),
            select(func.count()).select_from(Comment).where(
                of_post, Comment.status == "approved", Comment.deleted_at.is_(None)))


def _counts(roots_where, of_post):
    """Both ``_count_queries`` in one statement."""
    return select(*(query.scalar_subquery() for query in _count_queries(roots_where, of_post)))


def _shown(where):
    # A thread shows its authors' names and pictures only: plain rows (services/rows.py), no ORM objects.
    return comment_select(where)[0]


@functools.cache
def _guest_statements():
    # A guest sees approved comments only, whoever wrote the post: the same statements for every
    # post, bound to its id (built per request they cost more than they take to run).
    of_post, _ = _guest_shown()
    guest = _roots_for(of_post, lambda table: table.status == "approved")
    return _counts(guest, of_post), _shown(_guest_shown()), _count_queries(guest, of_post)


@functools.cache
def _guest_shown():
    # What a guest sees of a thread: its approved comments.
    return (Comment.post_id == bindparam("post_id"), Comment.status == "approved")


@functools.cache
def _guest_first_page(size: int):
    # Both counts beside one more than a page of comments: a whole thread that fits one page,
    # else the counts that page it.
    *_, counts = _guest_statements()
    statement, width = comment_select(_guest_shown(), extra=[query.scalar_subquery() for query in counts])
    return statement.limit(size + 1), width


def _tree(comments: list[CommentRow], count: int, page: int, pages: int, size: int) -> Thread:
    """The page's comments (parents before replies) as a tree, too-deep replies under their deepest allowed ancestor."""
    nodes = {c.id: ThreadNode(c) for c in comments}
    depth: dict[int, int] = {}
    roots: list[ThreadNode] = []
    for comment in comments:  # parents come before replies: ordered by time
        node = nodes[comment.id]
        parent = nodes.get(comment.parent_id) if comment.parent_id else None
        if parent is None or parent.comment.id not in depth:
            depth[comment.id] = 1
            roots.append(node)
            continue
        # Attach too-deep replies to the deepest allowed ancestor.
        while depth[parent.comment.id] >= MAX_DEPTH:
            parent = nodes[parent.comment.parent_id]
        depth[comment.id] = depth[parent.comment.id] + 1
        parent.replies.append(node)
    return Thread(roots=roots, count=count, page=page, pages=pages, per_page=size)


def requested_page(post: Post, viewer=None, *, reply_to: int | None = None) -> int | None:
    """The thread page a request asks for: ``?cpage=N``, else the page of the comment being replied
    to (the no-JS reply link), else None (the last page)."""
    from flask import request

    page = request.args.get("cpage", type=int)
    if page is not None:
        return min(max(page, 1), 10**9)
    if is_row_id(reply_to):
        comment = db.session.get(Comment, reply_to)
        if comment is not None and comment.post_id == post.id:
            return page_of(comment, viewer)
    return None


def page_of(comment: Comment, viewer=None) -> int | None:
    """The thread page (``thread``'s numbering) that shows ``comment`` to ``viewer``, or None when
    the viewer does not see it. Four small queries whatever the thread's size: is it visible, its
    top-level ancestor (a recursive CTE up the parents), that row, and how many come before it."""
    post = comment.post
    if not db.session.scalar(select(func.count()).select_from(Comment)
                             .where(Comment.id == comment.id, _visible(post, viewer))):
        return None
    # Up the parents while the viewer sees them: the last one reached is drawn at the top level.
    up = select(Comment.id, Comment.parent_id, literal(0).label("hops")).where(Comment.id == comment.id) \
        .cte("ancestors", recursive=True)
    parent = _PARENT
    up = up.union(select(parent.id, parent.parent_id, up.c.hops + 1)
                  .where(parent.id == up.c.parent_id, parent.post_id == post.id, _visible(post, viewer, parent),
                         up.c.hops < 10_000))
    root_id = db.session.scalar(select(up.c.id).order_by(up.c.hops.desc()).limit(1))
    root = db.session.get(Comment, root_id)
    before = db.session.scalar(
        select(func.count()).select_from(Comment).where(
            *_roots(post, viewer),
            or_(Comment.created_at < root.created_at, (Comment.created_at == root.created_at) & (Comment.id < root.id))))
    return before // per_page() + 1


def url_for_comment(comment: Comment, viewer=None, *, external: bool = False) -> str:
    """The post page that shows ``comment`` (``?cpage=N`` unless it is on the last page), at its anchor."""
    from flask import url_for

    page = page_of(comment, viewer)
    anchor = f"comment-{comment.id}" if page is not None else "comments"
    args = {}
    if page is not None and page != thread_pages(comment.post, viewer):
        args["cpage"] = page
    return url_for("posts.detail", slug=comment.post.slug, _anchor=anchor, _external=external, **args)


def thread_pages(post: Post, viewer=None) -> int:
    """How many pages the thread of ``post`` has for ``viewer``."""
    n_roots = db.session.scalar(select(func.count()).select_from(Comment).where(*_roots(post, viewer))) or 0
    return max(1, -(-n_roots // per_page()))


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
    if not is_row_id(comment_id):  # no row has it, and the database could not even bind it
        raise NotFound("There is no such comment.")
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
    if _transition(comment, MODERATION[action]):
        _record(by, _ACTIVITY[action], comment)
    db.session.commit()
    _forget_widgets()
    return comment


def _transition(comment: Comment, new_status: str) -> bool:
    """Set ``comment``'s status with one conditional UPDATE; True when this call changed it.

    Two moderators (or a double click) approving at once: the database lets one UPDATE match,
    so only that one announces the comment (one notification mail, not one per click). Both
    answer success: the comment ends approved either way.
    """
    changed = db.session.execute(
        update(Comment).where(Comment.id == comment.id, Comment.status != new_status)
        .values(status=new_status).execution_options(synchronize_session=False)
    ).rowcount
    set_committed_value(comment, "status", new_status)
    if changed and new_status == "approved" and not comment.is_removed:
        signals.comment_approved.send(current_app._get_current_object(), comment=comment)
    return bool(changed)


#: A bulk request acts on at most this many comments.
MAX_BULK = 1000
#: Ids are 32-bit on every database we run; larger numbers name no row.
#: The statuses each action applies to: anything but the status it sets.
ALLOWED_FROM = {action: tuple(s for s in ("pending", "approved", "rejected", "spam") if s != status)
                for action, status in MODERATION.items()}
_ACTIVITY = {"approve": "comment.approved", "reject": "comment.rejected", "spam": "comment.spam"}


@dataclass
class Moderated:
    """What a moderation request did: the ids changed, and why the others were left alone."""

    action: str
    done: list[int] = field(default_factory=list)
    #: Comment id -> "already approved", "not yours to moderate", "gone".
    skipped: dict[int, str] = field(default_factory=dict)


def moderate_many(ids: list[int], action: str, *, by: User, expected: str | None = None) -> Moderated:
    """Apply one action to several comments with one guarded UPDATE, and record it in the history.

    Only comments whose *current* status allows the action change (approving an approved
    comment does nothing), and with ``expected`` (the list they were ticked in) only those still
    in that status: a row someone approved a moment ago is not rejected by a stale bulk form.
    Comments ``by`` may not moderate are left alone. Each one left alone is reported with why.

    Raises:
        Invalid: an unknown action, or more than MAX_BULK ids.
    """
    if action not in MODERATION:
        raise Invalid("Unknown moderation action.")
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_BULK:
        raise Invalid(f"Moderate at most {MAX_BULK:,} comments at once.")
    outcome = Moderated(action)
    outcome.skipped = {comment_id: "gone" for comment_id in ids if not is_row_id(comment_id)}
    ids = [comment_id for comment_id in ids if comment_id not in outcome.skipped]
    if not ids or by is None or not by.has_role("author"):
        outcome.skipped.update({comment_id: "not yours to moderate" for comment_id in ids})
        return outcome
    allowed = [s for s in ALLOWED_FROM[action] if not expected or s == expected]
    statement = update(Comment).where(Comment.id.in_(ids), Comment.status.in_(allowed))
    if not by.has_role("moderator"):
        statement = statement.where(Comment.post_id.in_(select(Post.id).where(Post.author_id == by.id)))
    rows = db.session.execute(statement.values(status=MODERATION[action]).returning(Comment.id)
                              .execution_options(synchronize_session=False)).all()
    outcome.done = [row.id for row in rows]
    if outcome.done:
        # The history lines are written by the database from the rows themselves: one statement.
        who = func.coalesce(User.username, "a deleted user")
        lines = (select(literal(utcnow()), literal(by.id), literal(by.username), literal(_ACTIVITY[action]),
                        Comment.post_id, Comment.id,
                        literal("comment by ") + who + literal(" on “") + func.substr(Post.title, 1, 200) + literal("”"),
                        literal(""))
                 .join(Post, Post.id == Comment.post_id).outerjoin(User, User.id == Comment.author_id)
                 .where(Comment.id.in_(outcome.done)))
        db.session.execute(insert(Activity).from_select(
            ["created_at", "actor_id", "actor_name", "action", "post_id", "comment_id", "subject", "detail"], lines))
    if len(outcome.done) < len(ids):
        _explain(ids, outcome, by)
    if action == "approve" and outcome.done:
        approved = db.session.scalars(select(Comment).options(joinedload(Comment.post), joinedload(Comment.author))
                                      .where(Comment.id.in_(outcome.done), Comment.deleted_at.is_(None))).all()
        for comment in approved:
            signals.comment_approved.send(current_app._get_current_object(), comment=comment)
    db.session.commit()
    _forget_widgets()
    return outcome


def _explain(ids: list[int], outcome: Moderated, by: User) -> None:
    """Why each comment not changed was left alone (one query, only when some were)."""
    done = set(outcome.done)
    rest = [comment_id for comment_id in ids if comment_id not in done]
    found = {row.id: row for row in db.session.execute(
        select(Comment.id, Comment.status, Post.author_id).join(Post, Post.id == Comment.post_id)
        .where(Comment.id.in_(rest)))}
    for comment_id in rest:
        row = found.get(comment_id)
        if row is None:
            outcome.skipped[comment_id] = "gone"
        elif not (by.has_role("moderator") or row.author_id == by.id):
            outcome.skipped[comment_id] = "not yours to moderate"
        else:
            outcome.skipped[comment_id] = f"already {row.status}"


def describe_skipped(skipped: dict[int, str]) -> str:
    """"2 already approved, 1 gone": what a bulk request left alone, for its message."""
    reasons: dict[str, int] = {}
    for reason in skipped.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    return ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items(), key=lambda item: -item[1]))


def delete(comment: Comment, *, by: User) -> Comment | None:
    """Delete a comment: its writer, a moderator or the post's author may.

    A comment with replies stays as "comment removed" so the replies still read in context;
    returns it then, or None when the row is gone.
    """
    if not (by.id == comment.author_id or can_moderate(by, comment.post)):
        raise NotAllowed("You can only delete your own comments.")
    if by.id != comment.author_id:  # a moderation act, not a writer taking back their words
        _record(by, "comment.deleted", comment)
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


def _record(by: User, action: str, comment: Comment) -> None:
    who = comment.author.username if comment.author else "a deleted user"
    activity.record(by, action, f"comment by {who} on “{comment.post.title[:200]}”", post_id=comment.post_id,
                    comment_id=comment.id)


def _forget_widgets() -> None:
    pagecache.invalidate(pagecache.LISTINGS)


# --- the moderation queue -----------------------------------------------------------------

QUEUE_PER_PAGE = 25


def _visible_to(user: User, query: Select) -> Select:
    """Moderators see every comment; authors only those on their own posts (``Post`` must be joined)."""
    return query if user.has_role("moderator") else query.where(Post.author_id == user.id)


def queue(user: User, status: str, post_slug: str, number: int, per_page: int = QUEUE_PER_PAGE) -> Pagination:
    """One page of comments in ``status``, newest first, with authors and posts: three queries at any depth."""
    from blog.services import paging

    where = [Comment.status == status]
    if post_slug:
        where.append(Comment.post_id == select(Post.id).where(Post.slug == post_slug).scalar_subquery())
    if not user.has_role("moderator"):
        where.append(Comment.post_id.in_(select(Post.id).where(Post.author_id == user.id)))
    # ix_comments_status_created_at gives this order without sorting.
    ids = select(Comment.id).where(*where).order_by(Comment.created_at.desc(), Comment.id.desc())
    rows = select(Comment).options(joinedload(Comment.post), joinedload(Comment.author))
    return paging.paginate(ids=ids, count=select(func.count()).select_from(Comment).where(*where),
                           load=lambda found: paging.in_order(rows, Comment.id, found), page=number, per_page=per_page)


#: The post filter offers the posts with most comments in the status, this many.
QUEUE_POST_CHOICES = 50


def queue_posts(user: User, status: str, selected: str, shown: list[Comment] = ()) -> list[tuple[str, str]]:
    """The posts to filter the queue by, as ``(slug, title)`` by title, and always the selected one.

    For the pending queue (small by nature), the QUEUE_POST_CHOICES posts with most pending comments.
    For the other statuses (up to every comment ever written), the posts of the comments ``shown``
    on this page: counting comments per post over all approved ones would cost seconds.
    """
    if status != "pending":
        choices = {comment.post.slug: comment.post.title for comment in shown}
        if selected and selected not in choices:
            title = db.session.scalar(_visible_to(user, select(Post.title).where(Post.slug == selected)))
            if title is not None:
                choices[selected] = title
        return sorted(choices.items(), key=lambda item: (item[1], item[0]))
    busiest = select(Comment.post_id).where(Comment.status == status)
    if not user.has_role("moderator"):
        busiest = busiest.where(Comment.post_id.in_(select(Post.id).where(Post.author_id == user.id)))
    busiest = busiest.group_by(Comment.post_id).order_by(func.count().desc()).limit(QUEUE_POST_CHOICES)
    query = select(Post.slug, Post.title).where(or_(Post.id.in_(busiest), Post.slug == selected))
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
    """The comment as plain text (its Markdown rendered, then the tags dropped), cut at a word."""
    text = Markup(content.render_comment(text)).striptags()
    return text if len(text) <= length else text[:length].rsplit(" ", 1)[0] + "…"
