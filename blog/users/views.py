"""A person's public profile and their published posts."""
from __future__ import annotations

from flask import Response
from flask import request

from blog.main.views import Sidebar
from blog.rendering import page_number
from blog.rendering import render
from blog.rendering import wants_fragment
from blog.services import accounts
from blog.services import feeds
from blog.services import posts
from blog.services import reading
from blog.users import bp


@bp.get("/<username>")
def profile(username: str) -> Response:
    """The author's bio and links, then their posts; pagination swaps only the list."""
    user = accounts.get_public(username)
    page = posts.published(page=page_number(), author=user)
    # The list block lives in main/index.html, which this page extends: a swap renders it from there.
    template = "main/index.html" if wants_fragment() else "users/profile.html"
    return render(template, block="post_list", user=user, page=page, heading=user.username,
                  endpoint="users.profile", args={"username": username}, sidebar=Sidebar(), feed_url=None,
                  cards=reading.cards(page.items), alternates=feeds.alternates("author_feed", username=user.username))
