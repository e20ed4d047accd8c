"""Public profiles over the API."""
from __future__ import annotations

from flask import Response

from blog.api import auth
from blog.api import bp
from blog.api import schemas
from blog.services import accounts
from blog.services import posts


@bp.get("/users/<username>")
def get_user(username: str) -> Response:
    """A person's public profile: what /user/<username> shows, with their number of published posts."""
    auth.user()  # a bad token is a 401 even where guests may read
    user = accounts.get_public(schemas.path_arg(username, "There is no such user."))
    return schemas.respond(schemas.user_json(user, posts.published(1, 1, author=user).total or 0))
