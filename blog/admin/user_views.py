"""/admin/users (admins): find people; change roles, deactivate, resend verification, delete."""
from __future__ import annotations

from flask import Response
from flask import abort
from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user

from blog.admin import bp
from blog.admin.forms import ConfirmForm
from blog.admin.forms import UserDeleteForm
from blog.admin.forms import UserFilterForm
from blog.admin.forms import UserRoleForm
from blog.permissions import role_required
from blog.rendering import redirect_to
from blog.rendering import render
from blog.rendering import wants_fragment
from blog.services import accounts
from blog.services import activity
from blog.services import users
from blog.services.errors import Invalid
from blog.services.errors import NotAllowed
from blog.services.errors import NotFound


@bp.get("/users", endpoint="users")
@role_required("admin")
def users_list() -> Response:
    """People, newest first: search by name or email, filter by role, verified and active."""
    filters = UserFilterForm(request.args)
    chosen = users.Filters(q=filters.q.data, role=filters.role.data, verified=filters.verified.data,
                           active=filters.active.data)
    number = max(min(request.args.get("page", 1, type=int) or 1, 1_000_000), 1)
    page = users.listing(current_user, chosen, number)
    query = {"q": chosen.q or None, "role": chosen.role or None, "verified": chosen.verified or None,
             "active": chosen.active or None}
    back = url_for("admin.users", page=page.page if page.page > 1 else None, **query)
    ids = [user.id for user in page.items]
    return render("admin/users.html", block="people", page=page, filters=filters, query=query, back=back,
                  counts=users.content_counts(ids), history=activity.latest(user_ids=ids), message=None, error=None)


@bp.post("/users/<int:user_id>/role")
@role_required("admin")
def change_role(user_id: int) -> Response:
    """Give someone another role."""
    target = users.get_by_id(user_id)
    form = UserRoleForm()
    if not form.validate_on_submit():
        return _answer(target, error="Choose one of the roles offered.", status=422)
    before = target.role
    return _run(target, lambda: users.change_role(target, form.role.data, by=current_user),
                lambda: (f"{target.username} is now {'an' if target.role[0] in 'aeiou' else 'a'} {target.role}."
                         if target.role != before else f"{target.username} already is {target.role}."))


@bp.post("/users/<int:user_id>/<any(deactivate, reactivate):action>")
@role_required("admin")
def set_active(user_id: int, action: str) -> Response:
    """Deactivate someone (logged out everywhere, tokens revoked, content kept), or let them back in."""
    target = users.get_by_id(user_id)
    _checked(ConfirmForm())
    if action == "deactivate":
        return _run(target, lambda: users.deactivate(target, by=current_user),
                    lambda: f"Deactivated {target.username}: signed out, API tokens revoked.")
    return _run(target, lambda: users.set_active(target, True, by=current_user),
                lambda: f"Reactivated {target.username}.")


@bp.post("/users/<int:user_id>/verification")
@role_required("admin")
def resend_verification(user_id: int) -> Response:
    """Mail someone a new link to confirm their address."""
    target = users.get_by_id(user_id)
    _checked(ConfirmForm())
    sent: list[bool] = []
    return _run(target, lambda: sent.append(users.resend_verification(target, by=current_user)),
                lambda: (f"Sent a new verification link to {target.email}." if sent and sent[0]
                         else f"{target.username} has nothing to verify."))


@bp.post("/users/<int:user_id>/delete")
@role_required("admin")
def delete_user(user_id: int) -> Response:
    """Delete an account; its posts go to another user or are deleted, its comments stay as "deleted user"."""
    target = users.get_by_id(user_id)
    form = UserDeleteForm()
    if not form.validate_on_submit():
        return _answer(target, error="Choose what happens to their posts.", status=422)
    name = target.username
    heir = None
    if form.posts.data == "reassign":
        try:
            heir = users.get(form.reassign_to.data or "")
        except NotFound:
            return _answer(target, error="Give the posts to an existing user: type their username.", status=422)
    try:
        number = users.delete(target, by=current_user, posts=form.posts.data, reassign_to=heir)
    except (Invalid, NotAllowed) as error:
        return _answer(target, error=error.message, status=422 if isinstance(error, Invalid) else 403)
    what = (f"their {number} posts went to {heir.username}" if heir and number else
            f"their {number} posts were deleted" if number else "they had no posts")
    message = f"Deleted {name}; {what}. Their comments now read “deleted user”."
    if wants_fragment():
        return render("admin/users.html", block="person_done", user_id=user_id, message=message)
    flash(message)
    return redirect_to(_back())


def _checked(form) -> None:
    if not form.validate_on_submit():
        abort(400, "The form was not complete; reload the page and try again.")


def _run(target, change, message) -> Response:
    """Do ``change``; answer the row (htmx) or go back with a message. A refused change keeps the row as it is."""
    try:
        change()
    except NotAllowed as error:
        return _answer(target, error=error.message, status=403)
    except Invalid as error:
        return _answer(target, error=error.message, status=422)
    return _answer(target, message=message())


def _answer(target, *, message: str | None = None, error: str | None = None, status: int = 200) -> Response:
    if not wants_fragment():
        flash(error or message)
        return redirect_to(_back())
    return render("admin/users.html", block="person", status=status, user=target, message=message, error=error,
                  counts=users.content_counts([target.id]), history=activity.latest(user_ids=[target.id]),
                  back=_back())


def _back() -> str:
    return accounts.safe_next(request.form.get("next")) or url_for("admin.users")
