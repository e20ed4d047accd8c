"""Public profiles: /user/<username>."""
from flask import Blueprint

bp = Blueprint("users", __name__)

from blog.users import views  # noqa: E402,F401
