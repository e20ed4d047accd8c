"""Security headers on every response, the CSRF check of every state change, and refusal of input
no view should ever see."""
from __future__ import annotations

from flask import Flask
from flask import Response
from flask import abort
from flask import g
from flask import session
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter

from blog import current
from blog.extensions import csrf
from blog.rendering import vary

#: No inline script or style anywhere: htmx is configured through a <meta> tag instead.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

#: Longest value any one form field may carry, in characters, checked before a view runs (and so
#: before any rendering). The longest real field, a post body, allows 100,000; services say so
#: with a friendlier message up to this size.
MAX_FORM_FIELD = 200_000

NUL_IN_FORM = "Text may not contain NUL characters (U+0000). Remove them and send the form again."


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` that matches only numbers a database integer can hold; larger ones are a 404.

    (SQLite raises OverflowError past 2**63 - 1: ``/admin/categories/99999999999999999999`` was a 500.)
    """

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 (Werkzeug's name)
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


#: Every response's security headers, unless its view set its own.
DEFAULT_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)
WITH_HSTS = (*DEFAULT_HEADERS, ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"))


def _signed_in() -> bool:
    """True when this response belongs to a signed-in visitor (without loading the user for it)."""
    user = g.get("_login_user")
    if user is not None:
        return bool(user.is_authenticated)
    return "_user_id" in session


def check_csrf(app: Flask) -> None:
    """Flask-WTF's CSRF check of every state-changing request, in this hook instead of its own
    (``WTF_CSRF_CHECK_DEFAULT`` is off, as Flask-WTF documents for a custom hook): the method is
    tested first, where Flask-WTF's hook works out the view's exemptions on every GET as well.
    Registered right after ``csrf.init_app``, where Flask-WTF's hook would have been."""

    @app.before_request
    def _check_csrf() -> None:
        if app.config["WTF_CSRF_ENABLED"] and current.request().method in app.config["WTF_CSRF_METHODS"]:
            csrf.protect(apply_exemptions=True)


def register(app: Flask) -> None:
    """Add CSP and friends to every response; HSTS only where the site is served over HTTPS.

    Refuse NUL characters in the path or a form (and drop them from query strings), and over-long
    form fields: PostgreSQL
    cannot store NUL in text, and a megabyte in one field must not reach Markdown.
    """

    def _is_admin() -> bool:
        from flask_login import current_user

        return bool(current_user and current_user.is_authenticated and current_user.has_role("admin"))

    @app.before_request
    def _refuse_hostile_input() -> None:
        req = current.request()
        if "\x00" in req.path:
            abort(404)
        if req.path.startswith("/api/"):  # the API checks its input itself, with its 422s
            return
        if any("\x00" in key or "\x00" in value for key, value in req.args.items(multi=True)):
            # Meaningless in a query string, and PostgreSQL refuses them in text: dropped.
            req.args = ImmutableMultiDict([(key.replace("\x00", ""), value.replace("\x00", ""))
                                           for key, value in req.args.items(multi=True)])
        if req.method == "POST":
            if req.endpoint == "admin.upload_import" and _is_admin():
                # An admin's import upload may be larger than MAX_CONTENT_LENGTH (this reads the body).
                req.max_content_length = app.config["IMPORT_MAX_BYTES"] + 64 * 1024
            for key, value in req.form.items(multi=True):
                if len(value) > MAX_FORM_FIELD:
                    abort(413)
                if "\x00" in key or "\x00" in value:
                    abort(422, NUL_IN_FORM)

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        # A view may set its own (setdefault's semantics); one pass over the names instead of six
        # lookups, each a KeyError raised and caught inside Werkzeug when the header is absent.
        present = {name.lower() for name, _ in headers}
        headers.extend((name, value) for name, value in (WITH_HSTS if app.config.get("HSTS") else DEFAULT_HEADERS)
                       if name.lower() not in present)
        if response.mimetype == "text/html" and _signed_in():
            # A signed-in page shows this person's name, drafts, CSRF token: no shared cache may keep it,
            # and the browser must not show it from its cache after logout (the Back button).
            headers["Cache-Control"] = "private, no-store"
            vary(response, "Cookie")
        return response
