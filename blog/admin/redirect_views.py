"""/admin/redirects (admins): the old addresses that answer 301 (imported permalinks and hand-made ones).

List (search by old address, paginated), add, change a target, delete. Plain form posts (PRG):
every action works without JavaScript; the list's search and pages swap in place with htmx.
"""
from __future__ import annotations

from flask import Response
from flask import flash
from flask import request
from flask import url_for

from blog.admin import bp
from blog.admin.forms import ConfirmForm
from blog.permissions import role_required
from blog.rendering import page_number
from blog.rendering import redirect_to
from blog.rendering import render
from blog.services import pages
from blog.services.errors import Invalid

PER_PAGE = 50


def _query() -> str:
    return request.values.get("q", "")[:pages.MAX_PATH].strip()


def _back() -> str:
    """The list the admin was looking at (rebuilt from its search and page, never a posted URL)."""
    number = request.values.get("page", 1, type=int) or 1
    return url_for("admin.redirects", q=_query() or None, page=number if 1 < number < 1_000_000 else None)


def _page(status: int = 200, *, errors: dict | None = None, values: dict | None = None,
          row_errors: dict | None = None) -> Response:
    q = _query()
    found = pages.search_redirects(q, page=min(page_number(), 1_000_000), per_page=PER_PAGE)
    return render("admin/redirects.html", block="redirect_list", status=status, page=found, q=q, back=_back(),
                  errors=errors or {}, values=values or {"old_path": "", "target": ""}, row_errors=row_errors or {})


@bp.get("/redirects")
@role_required("admin")
def redirects() -> Response:
    """Every recorded redirect by old address; ``?q=`` finds those whose old address contains it."""
    return _page()


def _checked() -> None:
    if not ConfirmForm().validate_on_submit():  # the CSRF token (CSRFProtect refuses first; belt and braces)
        raise Invalid("The form has expired; reload the page and try again.")


@bp.post("/redirects")
@role_required("admin")
def create_redirect() -> Response:
    """Add a redirect from an old address to a path on this site."""
    _checked()
    values = {"old_path": request.form.get("old_path", "")[:2000], "target": request.form.get("target", "")[:2000]}
    try:
        row = pages.create_redirect(values["old_path"], values["target"])
    except Invalid as error:
        return _page(422, errors=error.fields, values=values)
    flash(f"{row.old_path} now redirects to {row.target}.")
    return redirect_to(url_for("admin.redirects", q=row.old_path))


@bp.post("/redirects/<int:redirect_id>")
@role_required("admin")
def update_redirect(redirect_id: int) -> Response:
    """Point an old address somewhere else."""
    row = pages.get_redirect(redirect_id)
    _checked()
    try:
        pages.update_redirect(row, request.form.get("target", "")[:2000])
    except Invalid as error:
        return _page(422, row_errors={row.id: error.fields.get("target", [error.message])})
    flash(f"{row.old_path} now redirects to {row.target}.")
    return redirect_to(_back())


@bp.post("/redirects/<int:redirect_id>/delete")
@role_required("admin")
def delete_redirect(redirect_id: int) -> Response:
    """Forget a redirect: its old address answers 404 again."""
    row = pages.get_redirect(redirect_id)
    _checked()
    old = row.old_path
    pages.delete_redirect(row)
    flash(f"Deleted the redirect from {old}.")
    return redirect_to(_back())
