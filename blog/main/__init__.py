"""Site-wide pages: home, health."""
from flask import Blueprint

bp = Blueprint("main", __name__)

from blog.main import views  # noqa: E402,F401
