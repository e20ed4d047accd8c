"""Full page or fragment, decided in one place."""
from __future__ import annotations

from flask import Response
from flask import get_flashed_messages
from flask import make_response
from flask import redirect
from flask import render_template
from flask_htmx import make_response as htmx_response
from jinja2_fragments.flask import render_block

from blog.extensions import htmx


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


def redirect_to(url: str) -> Response:
    """303 for plain form posts; ``HX-Redirect`` for htmx, so the browser loads the whole page.

    (``HX-Location`` would fetch the page as an htmx request, and get a fragment back.)
    """
    if htmx:
        return htmx_response(redirect=url)
    return redirect(url, 303)

