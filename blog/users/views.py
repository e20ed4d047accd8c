"""A person's public profile and their published posts."""
from __future__ import annotations

from flask import Response
from flask import request

from blog.main.views import Sidebar
from blog.rendering import render
from blog.services import accounts
from blog.services import posts
from blog.users import bp


@bp.get("/<username>")
def profile(username: str) -> Response:
    """The author's bio and links, then their posts; pagination swaps only the list."""
    user = accounts.get_public(username)
    page = posts.published(page=request.args.get("page", 1, type=int), author=user)
    return render("users/profile.html", block="post_list", user=user, page=page, heading=user.username,
                  endpoint="users.profile", args={"username": username}, sidebar=Sidebar(), feed_url=None)
