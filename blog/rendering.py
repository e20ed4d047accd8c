"""Full page or fragment, decided in one place."""
from __future__ import annotations

from flask import Response
from flask import abort
from flask import get_flashed_messages
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask_htmx import make_response as htmx_response
from jinja2_fragments.flask import render_block

from blog.extensions import htmx


#: Page numbers past this are a 404 before any query: no listing is that long, and SQLite's
#: integers overflow past 2**63 - 1 (``?page=99999999999999999999`` was a 500).
MAX_PAGE = 1_000_000


def page_number(name: str = "page", args=None) -> int:
    """The ``?page=N`` of this request (or of ``args``): 1 when absent or not a number; 404 when out of range."""
    number = (request.args if args is None else args).get(name, 1, type=int)
    if number < 1 or number > MAX_PAGE:
        abort(404)
    return number


def wants_fragment() -> bool:
    """True for an htmx swap; page loads, boosted links and history restores get the whole page."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(template: str, *, block: str | None = None, status: int = 200, oob: tuple[str, ...] = (),
           **context) -> Response:
    """Render ``template`` whole, or only ``block`` of it when htmx asks for a swap.

    Blocks named in ``oob`` ride along with the fragment (each renders with ``oob=True`` and
    must mark its root ``hx-swap-oob`` then). Pending flash messages always do, so a message
    flashed before an htmx response is shown at once, not on the next page.
    """
    if block and wants_fragment():
        html = render_block(template, block, **context)
        for extra in oob:
            html += render_block(template, extra, **{**context, "oob": True})
        if get_flashed_messages():
            html += render_template("_flashes.html", oob=True)
    else:
        html = render_template(template, **context)
    response = make_response(html, status)
    if block:
        response.vary.add("HX-Request")
    return response


def render_fragment(template: str, block: str, *, status: int = 200, **context) -> Response:
    """Render only ``block`` of ``template``, for URLs that exist only as fragments (inline checks,
    suggestions, counters): a plain request (no ``HX-Request``) gets the same small piece of HTML."""
    return make_response(render_block(template, block, **context), status)


def redirect_to(url: str) -> Response:
    """303 for plain form posts; ``HX-Redirect`` for htmx, so the browser loads the whole page.

    (``HX-Location`` would fetch the page as an htmx request, and get a fragment back.)
    """
    if htmx:
        return htmx_response(redirect=url)
    return redirect(url, 303)

