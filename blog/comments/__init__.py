"""Comments on a post: /blog/<slug>/comments and /comments/<id>/..."""
from flask import Blueprint

bp = Blueprint("comments", __name__)

from blog.comments import views  # noqa: E402,F401
