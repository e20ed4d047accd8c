"""The signed-in writer's workspace: /my/posts (and, in its own blueprint, /my/media)."""
from flask import Blueprint

bp = Blueprint("my", __name__)

from blog.my import views  # noqa: E402,F401
