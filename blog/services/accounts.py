"""Creating and looking up accounts."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from blog.extensions import cache
from blog.extensions import db
from blog.models import Post
from blog.models import User
from blog.models.user import ROLES
from blog.services.errors import Conflict
from blog.services.errors import Invalid
from blog.services.errors import NotFound

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,40}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
MAX_PASSWORD_BYTES = 72  # bcrypt's limit; longer passwords are refused, never silently cut


def validate_new_account(username: str, email: str, password: str) -> dict[str, list[str]]:
    """Field errors for a new account (empty when it is acceptable)."""
    errors: dict[str, list[str]] = {}
    if not USERNAME.match(username or ""):
        errors["username"] = ["Use 3–40 letters, digits, dots, dashes or underscores."]
    if not EMAIL.match(email or "") or len(email) > 254:
        errors["email"] = ["Enter a valid email address."]
    if len(password or "") < MIN_PASSWORD:
        errors["password"] = [f"Use at least {MIN_PASSWORD} characters."]
    elif len(password.encode()) > MAX_PASSWORD_BYTES:
        errors["password"] = [f"Use at most {MAX_PASSWORD_BYTES} bytes."]
    elif password.lower() in {(username or "").lower(), (email or "").lower()}:
        errors["password"] = ["The password must differ from your username and email."]
    return errors


def create_user(username: str, email: str, password: str, *, role: str = "reader",
                email_confirmed: bool = False) -> User:
    """Create an account.

    Raises:
        Invalid: a field breaks a rule (``fields`` says which).
        Conflict: the username or email is taken (also when a concurrent insert wins the race).
    """
    email = (email or "").strip().lower()
    username = (username or "").strip()
    errors = validate_new_account(username, email, password)
    if role not in ROLES:
        errors["role"] = [f"Role must be one of {', '.join(ROLES)}."]
    if errors:
        raise Invalid("The account details are not valid.", errors)
    taken = db.session.scalar(
        select(User).where(or_(func.lower(User.username) == username.lower(), User.email == email))
    )
    if taken is not None:
        raise Conflict("That username or email is already registered.")
    user = User(username=username, email=email, role=role, email_confirmed=email_confirmed)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("That username or email is already registered.") from None
    return user


def get_public(username: str) -> User:
    """The active account called ``username``. Raises NotFound."""
    user = db.session.scalar(select(User).where(User.username == username, User.is_active.is_(True)))
    if user is None:
        raise NotFound("There is no such user.")
    return user


@dataclass(frozen=True)
class AuthorCount:
    username: str
    count: int


@cache.memoize(timeout=60)
def authors(limit: int = 8) -> list[AuthorCount]:
    """The people who have published the most, with their counts (one grouped query)."""
    rows = db.session.execute(
        select(User.username, func.count(Post.id))
        .join(Post, Post.author_id == User.id)
        .where(Post.status == "published", User.is_active.is_(True))
        .group_by(User.id, User.username)
        .order_by(func.count(Post.id).desc(), User.username)
        .limit(limit)
    ).all()
    return [AuthorCount(*row) for row in rows]
