"""API tokens: log in for one, revoke the one in use."""
from __future__ import annotations

from flask import Response
from flask import jsonify
from flask import request
from werkzeug.exceptions import TooManyRequests

from blog.api import auth
from blog.api import bp
from blog.api import schemas
from blog.extensions import limiter
from blog.services import accounts
from blog.services import tokens
from blog.services.errors import Invalid


def _failed(response: Response) -> bool:
    return response.status_code >= 400


@bp.post("/auth/login")
# As the web login: 5 failed tries a minute per address (logging in does not count); the per-account
# back-off in accounts.authenticate applies as well.
@limiter.limit("5/minute", deduct_when=_failed, override_defaults=False,
               error_message="Too many failed logins from your address; wait a minute.")
def login() -> Response:
    """Trade an email and password for a bearer token (201), valid API_TOKEN_DAYS unless revoked."""
    data = schemas.json_body()
    errors = schemas.unknown(data, schemas.LOGIN_FIELDS)
    email = schemas.string(data, "email", errors)
    password = schemas.string(data, "password", errors)
    for name, value in (("email", email), ("password", password)):
        if not value and name not in errors:
            errors[name] = ["This field is required."]
    if password and len(password.encode()) > accounts.MAX_PASSWORD_BYTES:
        # No account has one this long (they are refused at sign-up), and bcrypt would raise on it.
        errors["password"] = [f"Passwords are at most {accounts.MAX_PASSWORD_BYTES} bytes."]
    if errors:
        raise Invalid("Send an email and a password.", errors)
    try:
        user = accounts.authenticate(email, password)
    except accounts.LockedOut as error:  # this account's back-off, as on the web login
        raise TooManyRequests(error.message, retry_after=error.retry_after) from None
    except Invalid as error:
        raise auth.unauthorized(error.message) from None
    # Named after the client, so the profile page can tell one token from another.
    raw, token = tokens.issue(user, name=request.headers.get("User-Agent", "") or "API client")
    response = jsonify({"token": raw, "expires_at": schemas.timestamp(token.expires_at)})
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"  # a credential: never kept by any cache
    return response


@bp.delete("/auth/token")
def revoke_token() -> Response:
    """Revoke the token this request carries (log out); 204."""
    tokens.revoke(auth.required_token())
    return Response(status=204)
