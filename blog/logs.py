"""Logging: one format with the request id, level from LOG_LEVEL, a rotating file in production."""
from __future__ import annotations

import logging
import os
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

from flask import Flask
from flask import Response
from flask import g
from flask import has_request_context
from flask import request

from blog import current

FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Add ``request_id`` to every record: the current request's, or ``-`` outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def request_id(incoming: str) -> str:
    """This request's id: a proxy's ``X-Request-ID`` when it looks sane (so one id follows a request
    through nginx and us), else 32 random hex digits."""
    return incoming if incoming.isalnum() and len(incoming) <= 64 else os.urandom(16).hex()


def configure(app: Flask) -> None:
    """Set up handlers on the root logger and a request id for each request."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_blog", False):
            root.removeHandler(handler)
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if app.config.get("LOG_FILE"):
        path = Path(app.config["LOG_FILE"])
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(RotatingFileHandler(path, maxBytes=5 * 1024 * 1024, backupCount=5))
    for handler in handlers:
        handler._blog = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    # huey_consumer installs its own handler on the "huey" logger: don't print its lines twice.
    logging.getLogger("huey").propagate = False
    app.logger.handlers.clear()  # propagate to the root logger instead of Flask's default handler
    app.logger.propagate = True

    access = logging.getLogger("blog.access")

    @app.before_request
    def _start() -> None:
        g.request_id = request_id(current.request().environ.get("HTTP_X_REQUEST_ID", ""))
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        here = g._get_current_object()  # one lookup through the proxy, not two (blog/current.py)
        response.headers["X-Request-ID"] = here.get("request_id", "-")
        started = here.get("request_started")
        if started is not None and access.isEnabledFor(logging.INFO):  # the line's parts cost even unlogged
            access.info("%s %s %s %.1fms", request.method, request.full_path.rstrip("?"),
                        response.status_code, (time.perf_counter() - started) * 1000)
        return response
