"""/admin/import (admins): upload a WordPress export or our JSON export, read its dry run, run it.

Both the dry run and the import run in the worker; the run's page polls its status fragment
every 2 s with htmx while it is queued or running (without JavaScript: a "Refresh" link).
"""
from __future__ import annotations

from flask import Response
from flask import current_app
from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user

from blog.admin import bp
from blog.extensions import csrf
from blog.permissions import role_required
from blog.rendering import page_number
from blog.rendering import redirect_to
from blog.rendering import render
from blog.services import import_runs
from blog.services.errors import Invalid


def _index(status: int = 200, errors: dict | None = None) -> Response:
    return render("admin/import.html", block="runs", status=status, errors=errors or {},
                  runs=import_runs.recent(page=min(page_number(), 1_000_000)),
                  max_mb=current_app.config["IMPORT_MAX_BYTES"] / (1024 * 1024))


@bp.get("/import")
@role_required("admin")
def import_index() -> Response:
    """The upload form and the imports so far."""
    return _index()


# Exempt from the app-wide check, which would read the body before the role is known; the token is
# checked here, by the same rule (the app-wide check skips exempt views).
def _csrf_first(view):
    """Check the CSRF token before anything else, as the app-wide check does (it skips exempt views)."""
    import functools

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_app.config["WTF_CSRF_ENABLED"]:
            csrf.protect()
        return view(*args, **kwargs)

    return wrapper


@csrf.exempt
@bp.post("/import")
@_csrf_first
@role_required("admin")
def upload_import() -> Response:
    """Store the file and queue its dry run; then show its page."""
    # (blog/security.py raised this request's size limit to IMPORT_MAX_BYTES for admins, before reading it.)
    try:
        run = import_runs.accept_upload(request.files.get("file"), by=current_user)
    except Invalid as error:
        return _index(422, errors=error.fields or {"file": [error.message]})
    return redirect_to(url_for("admin.import_run", run_id=run.id))


@bp.get("/import/<int:run_id>")
@role_required("admin")
def import_run(run_id: int) -> Response:
    """One import: its progress (the fragment htmx polls), the dry run's report, then the import's."""
    run = import_runs.get(run_id)
    return render("admin/import_run.html", block="run_status", state=import_runs.view(run))


@bp.post("/import/<int:run_id>/run")
@role_required("admin")
def start_import_run(run_id: int) -> Response:
    """After the dry run: import for real, in the worker."""
    run = import_runs.get(run_id)
    try:
        import_runs.start_import(run)
    except Invalid as error:
        flash(error.message, "error")
    return redirect_to(url_for("admin.import_run", run_id=run.id))
