"""JSON API v1: /api/v1/... (bearer tokens, no cookies, no CSRF)."""
from flask import Blueprint
from flask import request

from blog import signals
from blog.extensions import limiter

bp = Blueprint("api", __name__)

from blog.api import auth  # noqa: E402
from blog.api import comments  # noqa: E402,F401
from blog.api import openapi  # noqa: E402,F401
from blog.api import posts  # noqa: E402,F401
from blog.api import tokens  # noqa: E402,F401
from blog.api import users  # noqa: E402,F401

# DESIGN: 100 requests an hour per token, over every endpoint together (one shared bucket);
# requests without a valid token share their address's bucket.
# The OpenAPI document is static and free: clients and tools fetch it before they hold a token.
limiter.shared_limit("100/hour", scope="api", key_func=auth.rate_key,
                     exempt_when=lambda: request.endpoint == "api.openapi",
                     error_message="Rate limit reached: 100 requests an hour per token. See Retry-After.")(bp)
# A new password ends every API token, as it ends every web session.
signals.password_changed.connect(auth.end_tokens)
