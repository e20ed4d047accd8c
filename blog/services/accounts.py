"""Accounts: registration, e-mail verification, login with back-off, password reset, profiles."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import SignatureExpired
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from blog import signals
from blog.extensions import bcrypt
from blog.extensions import db
from blog.models import Post
from blog.models import User
from blog.models import utcnow
from blog.models.user import ROLES
from blog.services.errors import Conflict
from blog.services.errors import Invalid
from blog.services.errors import NotFound
from blog.services import pagecache

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,40}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
MAX_PASSWORD_BYTES = 72  # bcrypt's limit; longer passwords are refused, never silently cut
MAX_BIO = 1000
#: Profile links people may show, in display order.
SOCIAL_LINKS = ("website", "github", "mastodon", "bluesky", "linkedin")

VERIFY_MAX_AGE = timedelta(days=2)
RESET_MAX_AGE = timedelta(hours=1)
#: Failed logins allowed before back-off starts; then 1, 2, 4 ... minutes, at most an hour.
FREE_FAILURES = 5
MAX_LOCK = timedelta(hours=1)

GENERIC_LOGIN_ERROR = "Invalid email or password."


class LockedOut(Invalid):
    """Too many failed logins: ``retry_after`` seconds until the next try."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, round(retry_after / 60))
        super().__init__(f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.")
        self.retry_after = retry_after


# --- validation ---------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problems(password: str, username: str = "", email: str = "") -> list[str]:
    """Why ``password`` is not acceptable (empty when it is)."""
    if len(password or "") < MIN_PASSWORD:
        return [f"Use at least {MIN_PASSWORD} characters."]
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return [f"Use at most {MAX_PASSWORD_BYTES} bytes."]
    lowered = password.lower()
    if lowered in {(username or "").lower(), (email or "").lower(), (email or "").split("@")[0].lower()}:
        return ["The password must differ from your username and email."]
    if lowered in _common_passwords():
        return ["This password is too common. Choose one that is harder to guess."]
    return []


def validate_new_account(username: str, email: str, password: str) -> dict[str, list[str]]:
    """Field errors for a new account (empty when it is acceptable)."""
    errors: dict[str, list[str]] = {}
    if not USERNAME.match(username or ""):
        errors["username"] = ["Use 3–40 letters, digits, dots, dashes or underscores."]
    if not EMAIL.match(email or "") or len(email) > 254:
        errors["email"] = ["Enter a valid email address."]
    problems = password_problems(password, username, email)
    if problems:
        errors["password"] = problems
    return errors


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def username_taken(username: str) -> bool:
    """True when someone already has ``username`` (case-insensitively)."""
    return db.session.scalar(
        select(func.count()).select_from(User).where(func.lower(User.username) == (username or "").strip().lower())
    ) > 0


def email_taken(email: str) -> bool:
    """True when ``email`` is already registered."""
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.email == normalise_email(email))
    ) > 0


def availability(field: str, value: str) -> str | None:
    """For the inline check while typing: a problem with ``value`` for ``field``, or None when it is free."""
    value = (value or "").strip()
    if field == "username":
        if not USERNAME.match(value):
            return "Use 3–40 letters, digits, dots, dashes or underscores."
        return "That username is taken." if username_taken(value) else None
    if field == "email":
        # Only the shape: telling anyone which addresses are registered would undercut the login
        # and reset pages, which answer the same either way. A taken address is said on submit.
        if not EMAIL.match(value) or len(value) > 254:
            return "Enter a valid email address."
        return None
    raise NotFound("Unknown field.")


# --- creating accounts --------------------------------------------------------------------

def _conflicts(username: str, email: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if username_taken(username):
        errors["username"] = ["That username is taken."]
    if email_taken(email):
        errors["email"] = ["That email is already registered."]
    return errors


def create_user(username: str, email: str, password: str, *, role: str = "reader",
                email_confirmed: bool = False) -> User:
    """Create an account and announce it (``user_registered``) in one transaction.

    Raises:
        Invalid: a field breaks a rule (``fields`` says which).
        Conflict: the username or email is taken, also when a concurrent insert wins the race
            (``fields`` says which, when it can be told).
    """
    email, username = normalise_email(email), (username or "").strip()
    errors = validate_new_account(username, email, password)
    if role not in ROLES:
        errors["role"] = [f"Role must be one of {', '.join(ROLES)}."]
    if errors:
        raise Invalid("The account details are not valid.", errors)
    taken = _conflicts(username, email)
    if taken:
        raise _conflict(taken)
    user = User(username=username, email=email, role=role, email_confirmed=email_confirmed)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.flush()
        signals.user_registered.send(current_app._get_current_object(), user=user)
        db.session.commit()
    except IntegrityError:
        # Someone registered the same name or address between our check and our insert.
        db.session.rollback()
        raise _conflict(_conflicts(username, email) or {"username": ["That username is taken."]}) from None
    return user


def _conflict(fields: dict[str, list[str]]) -> Conflict:
    error = Conflict("That username or email is already registered.")
    error.fields = fields
    return error


# --- signed tokens ------------------------------------------------------------------------

def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"blog.{purpose}")


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:20]


def verification_token(user: User) -> str:
    """A signed token confirming ``user``'s current email address (valid two days)."""
    return _serializer("verify-email").dumps({"id": user.id, "email": _fingerprint(user.email)})


def reset_token(user: User) -> str:
    """A signed password-reset token; it dies after an hour or as soon as the password changes."""
    return _serializer("reset-password").dumps({"id": user.id, "pw": _fingerprint(user.password_hash)})


def _load(purpose: str, token: str, max_age: timedelta | None) -> dict:
    try:
        data = _serializer(purpose).loads(token, max_age=int(max_age.total_seconds()) if max_age else None)
    except SignatureExpired:
        raise Invalid("This link has expired. Ask for a new one.") from None
    except BadSignature:
        raise Invalid("This link is not valid. Check that you copied all of it.") from None
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise Invalid("This link is not valid. Check that you copied all of it.")
    return data


def confirm_email(token: str) -> User:
    """Mark the address in ``token`` as verified. Raises Invalid for a tampered, expired or stale link."""
    data = _load("verify-email", token, VERIFY_MAX_AGE)
    user = db.session.get(User, data["id"])
    if user is None or _fingerprint(user.email) != data.get("email"):
        raise Invalid("This link is not valid any more.")
    if not user.email_confirmed:
        user.email_confirmed = True
        db.session.commit()
    return user


def user_for_reset(token: str) -> User:
    """The user a reset link is for. Raises Invalid when tampered, expired or already used."""
    data = _load("reset-password", token, RESET_MAX_AGE)
    user = db.session.get(User, data["id"])
    if user is None or not user.is_active or _fingerprint(user.password_hash) != data.get("pw"):
        raise Invalid("This link has already been used or is no longer valid. Ask for a new one.")
    return user


# --- mail-sending actions -----------------------------------------------------------------

def send_verification(user: User) -> None:
    """Mail ``user`` a fresh verification link (nothing for a verified address)."""
    if user.email_confirmed:
        return
    from blog.handlers import send_verification_mail

    send_verification_mail(None, user=user)
    db.session.commit()


def request_reset(email: str) -> None:
    """Mail a reset link when ``email`` belongs to an active account; the caller answers the same either way."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_active:
        return
    from blog.services import mail

    mail.compose("password_reset", user.email, "password_reset", "Reset your password",
                 user=user, token=reset_token(user))
    db.session.commit()


# --- sessions -----------------------------------------------------------------------------

def expire_sessions(user: User) -> None:
    """Raise ``user``'s session version inside the caller's transaction (``end_sessions`` commits)."""
    # One UPDATE with the arithmetic in SQL: two concurrent calls both count.
    db.session.execute(update(User).where(User.id == user.id)
                       .values(session_version=User.session_version + 1))
    db.session.expire(user, ["session_version"])


def end_sessions(user: User) -> None:
    """End every cookie session and remember-me cookie of ``user``, on every device, at once.

    Each session id carries the user's session version (``User.get_id``), and the user loader
    refuses an id whose version is stale; this raises the version. Used by logout, "log out
    everywhere", password changes, and by whatever deactivates a user or changes their role.
    API tokens are separate (``services.tokens``). Commits.
    """
    expire_sessions(user)
    db.session.commit()


def load_session_user(session_id: str) -> User | None:
    """The active user a session id (``"<id>.<fingerprint>"``) still belongs to, or None when it
    is malformed, stale (password changed, sessions ended) or the account is deactivated."""
    user_id, _, fingerprint = (session_id or "").partition(".")
    if not user_id.isdigit() or len(user_id) > 18:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or user.session_fingerprint != fingerprint:
        return None
    return user


# --- passwords and logins -----------------------------------------------------------------

def _set_password(user: User, password: str) -> None:
    problems = password_problems(password, user.username, user.email)
    if problems:
        raise Invalid("The new password is not acceptable.", {"password": problems})
    user.set_password(password)
    user.failed_logins, user.locked_until = 0, None
    expire_sessions(user)  # the new hash alone would do; the version says it outright
    signals.password_changed.send(current_app._get_current_object(), user=user)
    db.session.commit()


def reset_password(token: str, password: str) -> User:
    """Set a new password from a reset link; the link dies with the old password."""
    user = user_for_reset(token)
    _set_password(user, password)
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Change a logged-in user's password after checking the current one."""
    if not user.check_password(current or ""):
        raise Invalid("The current password is wrong.", {"current_password": ["The current password is wrong."]})
    _set_password(user, new)


_DUMMY_HASH: str | None = None


def _burn_time(password: str) -> None:
    # Check against a throw-away hash so unknown emails take as long as wrong passwords.
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = bcrypt.generate_password_hash("not-a-real-password").decode()
    bcrypt.check_password_hash(_DUMMY_HASH, password or "x")


def authenticate(email: str, password: str, now: datetime | None = None) -> User:
    """The active user with these credentials.

    Raises:
        LockedOut: too many recent failures for this account (no password is checked meanwhile).
        Invalid: anything else, with one generic message (no account enumeration).
    """
    now = now or utcnow()
    if len((password or "").encode()) > MAX_PASSWORD_BYTES:  # bcrypt refuses these; no account has one
        _burn_time("x")
        raise Invalid(GENERIC_LOGIN_ERROR)
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        _burn_time(password)
        raise Invalid(GENERIC_LOGIN_ERROR)
    if user.locked_until and user.locked_until > now:
        raise LockedOut(int((user.locked_until - now).total_seconds()) + 1)
    if not user.check_password(password or ""):
        user.failed_logins += 1
        if user.failed_logins >= FREE_FAILURES:
            user.locked_until = now + min(timedelta(minutes=2 ** (user.failed_logins - FREE_FAILURES)), MAX_LOCK)
        db.session.commit()
        raise Invalid(GENERIC_LOGIN_ERROR)
    if not user.is_active:
        raise Invalid("This account has been deactivated.")
    if user.failed_logins or user.locked_until:
        user.failed_logins, user.locked_until = 0, None
        db.session.commit()
    return user


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a same-site relative path, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return None
    return target


# --- profiles -----------------------------------------------------------------------------

def clean_link(url: str) -> str | None:
    """``url`` when it is an absolute http(s) URL, "" for empty; None when it is not acceptable."""
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 300 or " " in url:
        return None
    return url


def validate_profile(bio: str, links: dict[str, str], timezone: str | None = None) -> tuple[str, dict[str, str]]:
    """The cleaned bio and links (and a check of the time zone's name). Raises Invalid with per-field messages."""
    from blog.services import clock

    errors: dict[str, list[str]] = {}
    try:
        clock.clean_zone(timezone)
    except Invalid as error:
        errors.update(error.fields)
    bio = (bio or "").strip()
    if len(bio) > MAX_BIO:
        errors["bio"] = [f"Keep it under {MAX_BIO} characters."]
    cleaned: dict[str, str] = {}
    for name in SOCIAL_LINKS:
        value = clean_link(links.get(name, ""))
        if value is None:
            errors[name] = ["Enter a full http:// or https:// address."]
        elif value:
            cleaned[name] = value
    if errors:
        raise Invalid("Some fields need attention.", errors)
    return bio, cleaned


def update_profile(user: User, *, bio: str, links: dict[str, str], timezone: str | None = None) -> User:
    """Save a user's bio, social links and time zone (empty: the site's). Raises Invalid with per-field messages."""
    from blog.services import clock

    user.bio, user.social_links = validate_profile(bio, links, timezone)
    user.timezone = clock.clean_zone(timezone)
    db.session.commit()
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


@pagecache.memoize(pagecache.LISTINGS, timeout=60)
def authors(limit: int = 8) -> list[AuthorCount]:
    """The people who have published the most, with their counts (one grouped query)."""
    rows = db.session.execute(
        select(User.username, func.count(Post.id))
        .join(Post, Post.author_id == User.id)
        .where(Post.status == "published", Post.kind == "post", User.is_active.is_(True))
        .group_by(User.id, User.username)
        .order_by(func.count(Post.id).desc(), User.username)
        .limit(limit)
    ).all()
    return [AuthorCount(*row) for row in rows]


# --- comment notifications ----------------------------------------------------------------

def unsubscribe_token(user: User) -> str:
    """A signed token that turns off ``user``'s comment notifications, for the link in each such mail.

    It never expires (it sits in old mail), and it is bound to the account's id and, through a
    fingerprint, its address: a link mailed to an address the account no longer has, or to an
    earlier account whose id was reused, does nothing.
    """
    return _serializer("unsubscribe").dumps({"id": user.id, "email": _fingerprint(user.email)})


def user_for_unsubscribe(token: str) -> User:
    """The user an unsubscribe link is for. Raises Invalid when tampered or stale."""
    data = _load("unsubscribe", token, None)
    user = db.session.get(User, data["id"])
    if user is None or _fingerprint(user.email) != data.get("email"):
        raise Invalid("This link is not valid any more.")
    return user


def set_notifications(user: User, on: bool) -> User:
    """Turn mail about comments on ``user``'s posts and replies to their comments on or off."""
    user.notify_comments = bool(on)
    db.session.commit()
    return user
