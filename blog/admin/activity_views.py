"""/admin/activity: who did what, newest first (moderators and admins)."""
from __future__ import annotations

from flask import Response
from flask import request
from flask import url_for

from blog.admin import bp
from blog.permissions import role_required
from blog.rendering import render
from blog.services import activity


@bp.get("/activity", endpoint="activity")
@role_required("moderator")
def activity_log() -> Response:
    """The moderation history, filterable by kind (post, comment, user), by post and by user."""
    kind = request.args.get("kind", "")
    kind = kind if kind in activity.KINDS else ""
    post_id = _id(request.args.get("post"))
    user_id = _id(request.args.get("user"))
    number = max(min(request.args.get("page", 1, type=int) or 1, 1_000_000), 1)
    page = activity.page(number, kind=kind, post_id=post_id, user_id=user_id)
    query = {"kind": kind or None, "post": post_id, "user": user_id}
    return render("admin/activity.html", block="history", page=page, kind=kind, query=query,
                  kinds=activity.KINDS, here=url_for("admin.activity", **query))


def _id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None
