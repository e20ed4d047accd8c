"""API bearer tokens: issued at login, stored only as a SHA-256 digest, expiring and revocable."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import joinedload

from blog.extensions import db
from blog.models import ApiToken
from blog.models import User
from blog.models import utcnow
from blog.services.errors import NotFound

#: ``last_used_at`` is written at most this often per token: a busy client costs no write per request.
TOUCH_EVERY = timedelta(minutes=5)
#: Longer strings cannot be tokens we issued; they are refused before hashing.
MAX_TOKEN_LENGTH = 200


def digest(raw: str) -> str:
    """The SHA-256 hex digest stored for ``raw`` (the token itself is never stored)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def issue(user: User, *, name: str = "", now: datetime | None = None) -> tuple[str, ApiToken]:
    """A new token for ``user``, valid API_TOKEN_DAYS: the raw value (shown once) and its row."""
    now = now or utcnow()
    raw = secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=digest(raw), name=" ".join((name or "").split())[:80],
                     created_at=now, expires_at=now + timedelta(days=current_app.config["API_TOKEN_DAYS"]))
    db.session.add(token)
    db.session.commit()
    return raw, token


def find(raw: str, now: datetime | None = None) -> ApiToken | None:
    """The live token ``raw`` names (not expired, not revoked, its user active), or None."""
    if not raw or len(raw) > MAX_TOKEN_LENGTH:
        return None
    token = db.session.scalar(select(ApiToken).options(joinedload(ApiToken.user))
                              .where(ApiToken.token_hash == digest(raw)))
    if token is None or not token.is_valid(now) or not token.user.is_active:
        return None
    return token


def touch(token: ApiToken, now: datetime | None = None) -> None:
    """Record that ``token`` was used: one small UPDATE, at most every TOUCH_EVERY."""
    now = now or utcnow()
    if token.last_used_at is not None and now - token.last_used_at < TOUCH_EVERY:
        return
    db.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    db.session.commit()


def revoke(token: ApiToken, now: datetime | None = None) -> None:
    """End ``token`` now (the row stays, so the profile page can say when)."""
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        db.session.commit()


def revoke_for(user: User, token_id: int) -> ApiToken:
    """Revoke one of ``user``'s tokens (the profile page's button). Raises NotFound for anyone else's."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("There is no such token.")
    revoke(token)
    return token


def active(user: User, now: datetime | None = None) -> list[ApiToken]:
    """``user``'s tokens that still work, newest first."""
    now = now or utcnow()
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_all(user: User) -> None:
    """End every live token of ``user`` in the current transaction (the caller commits).

    A changed password ends every API token, as it ends every session (see blog/api/auth.py).
    """
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))
