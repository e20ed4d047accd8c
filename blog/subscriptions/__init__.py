"""Email subscriptions: /subscribe, /subscribe/confirm/<token>, /unsubscribe/<token>, /subscriptions."""
from flask import Blueprint

bp = Blueprint("subscriptions", __name__)

from blog.subscriptions import views  # noqa: E402,F401
