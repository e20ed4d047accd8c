"""Who is calling the API: only ``Authorization: Bearer <token>`` counts; cookies never do."""
from __future__ import annotations

from flask import request
from flask_limiter.util import get_remote_address
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from blog.models import ApiToken
from blog.models import User
from blog.services import tokens
from blog.services.errors import NotAllowed

NO_TOKEN = "This needs a token: log in with POST /api/v1/auth/login and send 'Authorization: Bearer <token>'."
BAD_SCHEME = "Send the token as 'Authorization: Bearer <token>'."
BAD_TOKEN = "The token is not valid: it is unknown, expired or revoked. Log in again for a new one."
UNVERIFIED = "Confirm your email address first: we sent you a link when you registered."
#: Where the request's token is kept once read (see _resolve).
_STATE = "blog.api.auth"


def unauthorized(message: str, *, invalid: bool = False) -> Unauthorized:
    """A 401 to raise, with the Bearer challenge; ``invalid`` when a token was sent and refused."""
    # RFC 6750: say the scheme, and whether a token was sent but refused.
    challenge = WWWAuthenticate("bearer", {"realm": "api", **({"error": "invalid_token"} if invalid else {})})
    return Unauthorized(message, www_authenticate=challenge)


def _resolve() -> dict:
    """Read the Authorization header once per request (the rate limiter asks before the view does).

    Kept in the WSGI environ, which lives exactly as long as the request (``g`` belongs to the app
    context, which the test client shares between requests).
    """
    state = request.environ.get(_STATE)
    if state is not None:
        return state
    state = request.environ[_STATE] = {"token": None, "problem": None}
    header = request.headers.get("Authorization")
    if header is None:
        return state
    scheme, _, raw = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        state["problem"] = BAD_SCHEME
        return state
    token = tokens.find(raw.strip())
    if token is None:
        state["problem"] = BAD_TOKEN
        return state
    tokens.touch(token)
    state["token"] = token
    return state


def current_token() -> ApiToken | None:
    """The request's valid token, or None for a guest. Raises 401 for a bad or unusable one."""
    state = _resolve()
    if state["problem"]:
        raise unauthorized(state["problem"], invalid=True)
    return state["token"]


def user() -> User | None:
    """The caller, or None for a guest (who may read public content). Raises 401 for a bad token."""
    token = current_token()
    return token.user if token is not None else None


def required_token() -> ApiToken:
    """The request's token. Raises 401 when none, or no valid one, was sent."""
    token = current_token()
    if token is None:
        raise unauthorized(NO_TOKEN, invalid=False)
    return token


def required() -> User:
    """The caller. Raises 401 when no valid token was sent."""
    return required_token().user


def writer() -> User:
    """The caller, who must have confirmed their email to write (as on the web). Raises 401 or 403."""
    caller = required()
    if not caller.email_confirmed:
        raise NotAllowed(UNVERIFIED)
    return caller


def valid_token() -> ApiToken | None:
    """The request's token when it is valid, else None; never raises (for rate-limit keys)."""
    return _resolve()["token"]


def rate_key() -> str:
    """The API rate-limit bucket: the token's hash, or the address when no valid token was sent."""
    token = valid_token()
    if token is not None:
        return f"token:{token.token_hash}"
    return f"address:{get_remote_address()}"


def end_tokens(sender, user: User, **extra) -> None:
    """Receiver of ``password_changed``: a new password ends every API token, as it ends every session."""
    tokens.revoke_all(user)
