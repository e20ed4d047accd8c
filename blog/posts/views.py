"""Reading a post."""
from __future__ import annotations

from flask import Response
from flask_login import current_user

from blog.posts import bp
from blog.rendering import render
from blog.services import comments
from blog.services import posts


@bp.get("/<slug>")
def detail(slug: str) -> Response:
    """One post with its approved comments, threaded."""
    post = posts.get_visible(slug, current_user)
    thread = comments.thread(post)
    return render("posts/detail.html", block="comments", post=post, thread=thread)
