"""Managing people (admins): find them, change roles, deactivate, resend verification, delete.

Nobody can demote, deactivate or delete the last active admin, nor themselves. A deactivated
user's API tokens are revoked at once, and their web session ends on its next request (the
session loader refuses inactive users); their content stays.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import delete as sql_delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from blog.extensions import db
from blog.models import Activity
from blog.models import ApiToken
from blog.models import Comment
from blog.models import Post
from blog.models import User
from blog.models.base import is_row_id
from blog.models.user import ROLES
from blog.services import accounts
from blog.services import activity
from blog.services import review
from blog.services import tokens
from blog.services.errors import Invalid
from blog.services.errors import NotAllowed
from blog.services.errors import NotFound

PER_PAGE = 25


def check_admin(user: User) -> None:
    """Raise NotAllowed unless ``user`` is an admin."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_role("admin"):
        raise NotAllowed("Only admins manage users.")


@dataclass
class Filters:
    q: str = ""
    role: str = ""
    #: "yes", "no" or "" (either).
    verified: str = ""
    active: str = ""


@dataclass
class Row:
    user: User
    posts: int
    comments: int


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(filters: Filters) -> list:
    where = []
    if filters.q:
        pattern = f"%{_escape(filters.q.lower())}%"
        where.append(or_(func.lower(User.username).like(pattern, escape="\\"),
                         func.lower(User.email).like(pattern, escape="\\")))
    if filters.role in ROLES:
        where.append(User.role == filters.role)
    if filters.verified in ("yes", "no"):
        where.append(User.email_confirmed.is_(filters.verified == "yes"))
    if filters.active in ("yes", "no"):
        where.append(User.is_active.is_(filters.active == "yes"))
    return where


def listing(by: User, filters: Filters, number: int = 1, per_page: int = PER_PAGE) -> Pagination:
    """One page of users, newest first: three queries at any depth (a page past the last gives the last)."""
    from blog.services import paging

    check_admin(by)
    where = _conditions(filters)
    return paging.paginate(ids=select(User.id).where(*where).order_by(User.created_at.desc(), User.id.desc()),
                           count=select(func.count()).select_from(User).where(*where),
                           load=lambda ids: paging.in_order(select(User), User.id, ids), page=number,
                           per_page=per_page)


def content_counts(user_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Posts and comments per user, for a page of rows: one query."""
    if not user_ids:
        return {}
    posts = (select(func.count()).select_from(Post).where(Post.author_id == User.id)
             .correlate(User).scalar_subquery())
    comments = (select(func.count()).select_from(Comment).where(Comment.author_id == User.id)
                .correlate(User).scalar_subquery())
    rows = db.session.execute(select(User.id, posts, comments).where(User.id.in_(user_ids)))
    return {user_id: (p, c) for user_id, p, c in rows}


def get(username: str) -> User:
    """The user called ``username``. Raises NotFound."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("There is no such user.")
    return user


def get_by_id(user_id: int) -> User:
    """The user with ``user_id``. Raises NotFound."""
    user = db.session.get(User, user_id) if is_row_id(user_id) else None
    if user is None:
        raise NotFound("There is no such user.")
    return user


def _keep_an_admin(target: User, by: User, doing: str) -> None:
    """Refuse to act on oneself, or to leave the site without an active admin.

    The active admins' rows are locked first (PostgreSQL), so two admins demoting each other at
    the same moment cannot both succeed.
    """
    if target.id == by.id:
        raise NotAllowed(f"You cannot {doing} yourself; ask another admin.")
    if target.role != "admin" or not target.is_active:
        return
    admins = db.session.scalars(select(User.id).where(User.role == "admin", User.is_active.is_(True))
                                .with_for_update()).all()
    if set(admins) <= {target.id}:
        raise NotAllowed(f"You cannot {doing} the last admin: make someone else an admin first.")


def _end_access(user: User) -> None:
    """End ``user``'s API tokens and every web session and remember-me cookie, with the caller's commit."""
    tokens.revoke_all(user)
    accounts.expire_sessions(user)


def change_role(target: User, role: str, *, by: User) -> User:
    """Give ``target`` another role (their tokens are revoked: a token must not outlive its rights).

    Raises:
        NotAllowed: ``by`` is no admin, or this is themselves or the last admin.
        Invalid: an unknown role.
    """
    check_admin(by)
    if role not in ROLES:
        raise Invalid("Choose one of the roles offered.", {"role": ["Choose one of the roles offered."]})
    if role == target.role:
        return target
    if role != "admin":
        _keep_an_admin(target, by, "demote")
    elif target.id == by.id:
        return target
    was = target.role
    target.role = role
    _end_access(target)
    activity.record(by, "user.role", target.username, user_id=target.id, detail=f"{was} → {role}")
    db.session.commit()
    return target


def set_active(target: User, active: bool, *, by: User) -> User:
    """Deactivate (logged out everywhere, tokens revoked, content kept) or reactivate ``target``.

    Raises:
        NotAllowed: ``by`` is no admin, or this is themselves or the last admin.
    """
    check_admin(by)
    if bool(target.is_active) == active:
        return target
    if not active:
        _keep_an_admin(target, by, "deactivate")
        target.is_active = False
        _end_access(target)
    else:
        target.is_active = True
    activity.record(by, "user.deactivated" if not active else "user.reactivated", target.username,
                    user_id=target.id)
    db.session.commit()
    return target


def deactivate(target: User, *, by: User) -> User:
    """Deactivate ``target``: the one place access ends (see ``_end_access``)."""
    return set_active(target, False, by=by)


def resend_verification(target: User, *, by: User) -> bool:
    """Mail ``target`` a new verification link; False when their address is already confirmed."""
    check_admin(by)
    if target.email_confirmed or not target.is_active:
        return False
    from blog.handlers import send_verification_mail

    send_verification_mail(None, user=target)
    activity.record(by, "user.verification", target.username, user_id=target.id)
    db.session.commit()
    return True


def delete(target: User, *, by: User, posts: str, reassign_to: User | None = None) -> int:
    """Delete ``target``'s account; their posts go to ``reassign_to`` (``posts="reassign"``) or are
    deleted (``posts="delete"``). Their comments stay, under a "deleted user" byline. Returns how
    many posts were reassigned or deleted.

    Raises:
        NotAllowed: ``by`` is no admin, or this is themselves or the last admin.
        Invalid: no valid choice for the posts.
    """
    check_admin(by)
    _keep_an_admin(target, by, "delete")
    if posts not in ("reassign", "delete"):
        raise Invalid("Choose what happens to their posts.", {"posts": ["Choose what happens to their posts."]})
    if posts == "reassign":
        if reassign_to is None or reassign_to.id == target.id:
            raise Invalid("Choose another user to give the posts to.",
                          {"reassign_to": ["Choose another user to give the posts to."]})
    post_ids = list(db.session.scalars(select(Post.id).where(Post.author_id == target.id)))
    deleted: list[review.Outcome] = []
    username, user_id = target.username, target.id
    if posts == "reassign" and post_ids:
        db.session.execute(update(Post).where(Post.author_id == user_id).values(author_id=reassign_to.id)
                           .execution_options(synchronize_session=False))
        detail = f"{len(post_ids)} posts given to {reassign_to.username}"
    elif post_ids:
        # A few statements per thousand posts, all in this transaction: the account and its posts go together.
        for start in range(0, len(post_ids), review.MAX_BULK):
            deleted.append(review.act(post_ids[start:start + review.MAX_BULK], "delete", by=by, commit=False))
        detail = f"{len(post_ids)} posts deleted"
    else:
        detail = "no posts"
    db.session.execute(update(Comment).where(Comment.author_id == user_id).values(author_id=None)
                       .execution_options(synchronize_session=False))
    db.session.execute(update(Activity).where(Activity.actor_id == user_id).values(actor_id=None)
                       .execution_options(synchronize_session=False))
    db.session.execute(update(Activity).where(Activity.user_id == user_id).values(user_id=None)
                       .execution_options(synchronize_session=False))
    db.session.execute(sql_delete(ApiToken).where(ApiToken.user_id == user_id)
                       .execution_options(synchronize_session=False))
    # Their uploaded images: to whoever gets the posts, else to the admin deleting them (other posts
    # may show them; unused ones can be deleted from /my/media). A cascade would orphan the files.
    from blog.models import Media

    db.session.execute(update(Media).where(Media.owner_id == user_id)
                       .values(owner_id=(reassign_to.id if posts == "reassign" else by.id))
                       .execution_options(synchronize_session=False))
    activity.record(by, "user.deleted", username, detail=detail)
    db.session.expunge(target)
    db.session.execute(sql_delete(User).where(User.id == user_id).execution_options(synchronize_session=False))
    db.session.commit()
    for outcome in deleted:
        review.after_delete(outcome)
    return len(post_ids)
