"""Static pages at /<slug> and redirects from old addresses (registered last: site routes win)."""
from flask import Blueprint

bp = Blueprint("pages", __name__)

from blog.pages import views  # noqa: E402,F401
