"""People over the API: public profiles for everyone; the list and role/active changes for admins."""
from __future__ import annotations

from flask import Response

from blog.api import auth
from blog.api import bp
from blog.api import schemas
from blog.models.user import ROLES
from blog.services import accounts
from blog.services import posts
from blog.services import users
from blog.services.errors import Invalid


@bp.get("/users")
def list_users() -> Response:
    """Admins: every user, newest first, searched by name or email (``q``) and filtered by role, verified, active."""
    caller = auth.required()
    users.check_admin(caller)  # before reading anything else: others learn nothing here
    page, per_page = schemas.page_args()
    filters = users.Filters(q=schemas.text_arg("q")[:254], role=schemas.choice_arg("role", ROLES),
                            verified=_yes_no("verified"), active=_yes_no("active"))
    found = users.listing(caller, filters, page, per_page)
    counts = users.content_counts([user.id for user in found.items])
    items = [schemas.admin_user_json(user, *counts.get(user.id, (0, 0))) for user in found.items]
    return schemas.respond(schemas.list_json(items, found))


@bp.get("/users/<username>")
def get_user(username: str) -> Response:
    """A person's public profile: what /user/<username> shows, with their number of published posts."""
    auth.user()  # a bad token is a 401 even where guests may read
    user = accounts.get_public(schemas.path_arg(username, "There is no such user."))
    return schemas.respond(schemas.user_json(user, posts.published(1, 1, author=user).total or 0))


@bp.patch("/users/<username>")
def update_user(username: str) -> Response:
    """Admins: change someone's ``role`` and/or ``active`` (false: signed out everywhere, tokens revoked)."""
    caller = auth.required()
    users.check_admin(caller)
    target = users.get(schemas.path_arg(username, "There is no such user."))
    data = schemas.json_body()
    errors = schemas.unknown(data, schemas.USER_PATCH_FIELDS)
    role = schemas.string(data, "role", errors)
    if role is not None and role not in ROLES:
        errors["role"] = [f"Must be one of: {', '.join(ROLES)}."]
    active = schemas.boolean(data, "active", errors)
    if errors:
        raise Invalid("Some fields are not valid; nothing was changed.", errors)
    if role is not None:
        users.change_role(target, role, by=caller)
    if active is not None:
        users.set_active(target, active, by=caller)
    counts = users.content_counts([target.id]).get(target.id, (0, 0))
    return schemas.respond(schemas.admin_user_json(target, *counts))


def _yes_no(name: str) -> str:
    """``true``/``false`` in the query string as the service's "yes"/"no" ("" when absent)."""
    return {"true": "yes", "false": "no", "": ""}[schemas.choice_arg(name, ("true", "false"))]
