"""Static pages at ``/<slug>`` and 301s for old addresses (WordPress permalinks and the like)."""
from __future__ import annotations

from flask import Response
from flask import abort
from flask import current_app
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed

from blog.pages import bp
from blog.rendering import render
from blog.services import pages
from blog.services.errors import NotFound

# Every method, so that a POST to an unknown address is still a 404 (not a 405 from these rules).
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


@bp.before_app_request
def old_query_links() -> Response | None:
    """WordPress's ``/?p=ID`` and ``/?page_id=ID`` links: a 301 to the post or page they became."""
    if request.path == "/" and request.method in ("GET", "HEAD") and ("p" in request.args or "page_id" in request.args):
        key = "p" if "p" in request.args else "page_id"
        target = pages.redirect_target(f"/?{key}={request.args.get(key, '')}")
        if target:
            return redirect(target, 301)
    return None


def _refuse_like_the_site() -> None:
    """404, or 405 when one of the site's own routes has this address for other methods.

    (These rules take every method, so Werkzeug picks them over a route of the wrong method.)
    """
    adapter = current_app.url_map.bind("localhost")
    allowed = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if not endpoint.startswith("pages."):
            allowed.add(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=sorted(allowed | ({"HEAD"} if "GET" in allowed else set())))
    abort(404)


def _old_address(path: str) -> Response:
    if request.method in ("GET", "HEAD"):
        target = pages.redirect_target(path)
        if target:
            return redirect(target, 301)
        # Old permalinks end in a slash (/tag/x/, /about/): send them to our slash-less route.
        if request.path.endswith("/") and len(request.path) > 1:
            stripped = request.path.rstrip("/")
            try:
                endpoint, _ = current_app.url_map.bind("localhost").match(stripped, method="GET")
            except HTTPException:
                endpoint = None
            if endpoint and endpoint != "pages.old_address":
                query = request.query_string.decode()
                return redirect(stripped + (f"?{query}" if query else ""), 301)
    _refuse_like_the_site()


@bp.route("/<slug>", methods=_METHODS)
def page(slug: str) -> Response:
    """A static page; an old address recorded as a redirect answers 301; anything else 404."""
    if request.method not in ("GET", "HEAD"):
        _refuse_like_the_site()
    try:
        found = pages.get_page(slug, current_user)
    except NotFound:
        if request.method in ("GET", "HEAD") and not pages.redirect_target(request.full_path):
            # A post's slug typed at the root (/<post-slug>): friendlier to send the reader to the post
            # than to answer 404. Only a post this visitor may read (a draft's address stays a 404).
            post = pages.visible_post(slug, current_user)
            if post is not None:
                return redirect(url_for("posts.detail", slug=post), 301)
        return _old_address(request.full_path)
    return render("pages/detail.html", page=found)


@bp.route("/<path:path>", methods=_METHODS)
def old_address(path: str) -> Response:
    """Any other unknown address: a 301 when a redirect is recorded for it, else 404."""
    return _old_address(request.full_path)
