"""The writer's media library: /my/media (their uploaded images, where each is used, delete unused ones)."""
from flask import Blueprint

bp = Blueprint("media", __name__)

from blog.media import views  # noqa: E402,F401
