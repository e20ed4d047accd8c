"""Accounts: /auth/..."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from blog.auth import views  # noqa: E402,F401
