"""Administration: /admin/..."""
from flask import Blueprint

bp = Blueprint("admin", __name__)

from blog.admin import views  # noqa: E402,F401
from blog.admin import activity_views  # noqa: E402,F401
from blog.admin import post_views  # noqa: E402,F401
from blog.admin import user_views  # noqa: E402,F401
from blog.admin import redirect_views  # noqa: E402,F401
from blog.admin import import_views  # noqa: E402,F401
