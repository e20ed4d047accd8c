"""Who may do what: the role decorator and the ownership check every feature uses."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort
from flask_login import current_user
from flask_login import login_required

from blog.models.user import ROLES
from blog.services.errors import NotAllowed


def role_required(role: str) -> Callable:
    """Let in logged-in users whose role is ``role`` or more trusted (reader < author < moderator < admin)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any):
            if not current_user.has_role(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def verified_required(view: Callable) -> Callable:
    """Let in logged-in users who confirmed their email address (others may read, not write)."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any):
        if not current_user.email_confirmed:
            abort(403, "Confirm your email address first: we sent you a link when you registered.")
        return view(*args, **kwargs)

    return wrapper


def can_manage(user, owner_id: int | None) -> bool:
    """True when ``user`` owns the thing (``owner_id``) or is a moderator or admin."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.id == owner_id or user.has_role("moderator")


def check_owner(user, owner_id: int | None, message: str = "You can only change your own things.") -> None:
    """Raise NotAllowed unless ``user`` owns the thing or moderates."""
    if not can_manage(user, owner_id):
        raise NotAllowed(message)
