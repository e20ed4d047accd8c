"""Administration: /admin/..."""
from flask import Blueprint

bp = Blueprint("admin", __name__)

from blog.admin import views  # noqa: E402,F401
