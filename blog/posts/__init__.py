"""Posts: /blog/..."""
from flask import Blueprint

bp = Blueprint("posts", __name__)

from blog.posts import views  # noqa: E402,F401
from blog.posts import revision_views  # noqa: E402,F401
