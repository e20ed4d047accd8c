"""/my/posts: the writer's own posts by status, with counts, title search and pages, updated in place."""
from __future__ import annotations

from flask import Response
from flask import request
from flask_login import current_user

from blog.my import bp
from blog.permissions import verified_required
from blog.rendering import render
from blog.services import workspace


@bp.get("/posts")
@verified_required
def posts() -> Response:
    """Your posts and pages in one status tab (drafts first), searchable by title; htmx swaps only the list."""
    status = workspace.clean_status(request.args.get("status"))
    q = workspace.clean_query(request.args.get("q"))
    number = max(min(request.args.get("page", 1, type=int) or 1, 1_000_000), 1)
    page = workspace.listing(current_user, status, q, number)
    return render("my/posts.html", block="listing", page=page, tab=status, q=q,
                  counts=workspace.tab_counts(current_user, q), notes=workspace.sent_back_notes(page.items),
                  query={"q": q or None})
