"""App-wide error handlers: a friendly page (or fragment) for browsers, JSON under /api/."""
from __future__ import annotations

import logging

from flask import Flask
from flask import Response
from flask import jsonify
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError

from blog.extensions import htmx
from blog.rendering import render
from blog.services.errors import ServiceError

log = logging.getLogger(__name__)

#: What a browser user is told, per status; the JSON API uses Werkzeug's descriptions.
FRIENDLY = {
    400: ("Bad request", "The request could not be understood. If you submitted a form, reload the page and try again."),
    401: ("Please log in", "You need to log in to see this page."),
    403: ("Not allowed", "You do not have permission to do that."),
    404: ("Page not found", "There is nothing here. The page may have moved or never existed."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    409: ("Conflict", "That clashes with something that already exists."),
    413: ("Too large", "What you sent is larger than this site accepts."),
    415: ("Unsupported type", "The content type of the request is not supported."),
    422: ("Invalid input", "Some of what you sent is not valid."),
    429: ("Slow down", "Too many requests. Please wait a little and try again."),
    500: ("Something went wrong", "An unexpected error happened on our side. It has been logged; please try again later."),
}


def error_response(status: int, message: str | None = None, **extra) -> Response:
    """The JSON error shape of DESIGN.md: ``{"error", "message", "status"}`` plus ``extra``."""
    name = _status_name(status)
    payload = {"error": name, "message": message or name, "status": status, **extra}
    response = jsonify(payload)
    response.status_code = status
    return response


def _status_name(status: int) -> str:
    from werkzeug.http import HTTP_STATUS_CODES

    return HTTP_STATUS_CODES.get(status, "Error")


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _page(status: int, message: str | None = None) -> Response:
    title, text = FRIENDLY.get(status, (_status_name(status), ""))
    response = render("errors/error.html", block="error", status=status,
                      code=status, title=title, message=message or text)
    if htmx:
        # Show the error in the main region, whatever the request meant to swap.
        response.headers["HX-Retarget"] = "#main"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def handle_http_error(exc: HTTPException) -> Response:
    """Render any HTTP error as JSON for the API or as a page for browsers."""
    status = exc.code or 500
    if _wants_json():
        response = error_response(status, exc.description if status != 500 else None)
    else:
        message = exc.description if status in (403, 409, 422) and _custom(exc) else None
        response = _page(status, message)
    # Keep headers the exception carries (Allow on 405, Retry-After on 429, ...).
    for key, value in exc.get_headers():
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


def _custom(exc: HTTPException) -> bool:
    """True when the description was written by us (``abort(403, "...")``), not Werkzeug's default."""
    return exc.description != type(exc).description


def handle_service_error(exc: ServiceError) -> Response:
    """Map a domain error raised by a service to its HTTP status."""
    if _wants_json():
        extra = {"fields": exc.fields} if getattr(exc, "fields", None) else {}
        return error_response(exc.status, exc.message or None, **extra)
    return _page(exc.status, exc.message or None)


def handle_unexpected(exc: Exception) -> Response:
    """Log an unhandled exception with its traceback and answer a bare 500."""
    if isinstance(exc, HTTPException):
        return handle_http_error(exc)
    log.exception("Unhandled exception on %s %s", request.method, request.path)
    return handle_http_error(InternalServerError())


def register(app: Flask) -> None:
    """Install the handlers on ``app``."""
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(Exception, handle_unexpected)
