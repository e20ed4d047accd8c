"""Register, verify, log in and out, reset a password, edit a profile."""
from __future__ import annotations

from flask import Response
from flask import abort
from flask import current_app
from flask import flash
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_login import login_user
from flask_login import logout_user

from blog.auth import bp
from blog.auth.forms import ConfirmForm
from blog.auth.forms import LoginForm
from blog.auth.forms import PasswordForm
from blog.auth.forms import ProfileForm
from blog.auth.forms import RegisterForm
from blog.auth.forms import ResetForm
from blog.auth.forms import ResetRequestForm
from blog.auth.forms import apply_errors
from blog.extensions import csrf
from blog.extensions import limiter
from blog.rendering import redirect_to
from blog.rendering import render
from blog.rendering import render_fragment
from blog.services import accounts
from blog.services import media
from blog.services import tokens
from blog.services.accounts import SOCIAL_LINKS
from blog.services.errors import Conflict
from blog.services.errors import Invalid


def _form_page(template: str, form, status: int = 200, **context) -> Response:
    """The page with its form; htmx posts swap only the form, with 422 when it has errors."""
    return render(template, block="form", status=status, form=form, **context)


def _email_key() -> str:
    return "reset:" + accounts.normalise_email(request.form.get("email", ""))


def _user_key() -> str:
    return f"user:{current_user.get_id()}"


def _failed(response: Response) -> bool:
    return response.status_code >= 400


def _succeeded(response: Response) -> bool:
    return response.status_code < 400


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("3/hour", methods=["POST"], deduct_when=_succeeded)  # accounts created, not typos fixed
def register() -> Response:
    """Create an account, log it in and mail a verification link."""
    if current_user.is_authenticated:
        return redirect_to(url_for("main.index"))
    form = RegisterForm()
    if form.is_submitted():
        valid = form.validate()
        # The account rules speak too, so one round trip shows every problem at once.
        rules = accounts.validate_new_account(form.username.data or "", form.email.data or "",
                                              form.password.data or "")
        apply_errors(form, {name: messages for name, messages in rules.items() if not form[name].errors})
        if not valid or rules:
            return _form_page("auth/register.html", form, 422)
        try:
            user = accounts.create_user(form.username.data, form.email.data, form.password.data)
        except (Invalid, Conflict) as error:
            apply_errors(form, getattr(error, "fields", {}) or {"username": [error.message]})
        else:
            session.clear()
            login_user(user)
            flash(f"Welcome, {user.username}! We sent a link to {user.email}: open it to confirm your address.")
            return redirect_to(url_for("main.index"))
    return _form_page("auth/register.html", form, 422 if form.errors else 200)


@bp.get("/check/<field>")
@limiter.limit("60/minute")
def check(field: str) -> Response:
    """Inline availability check while typing (username or email)."""
    if field not in ("username", "email"):
        abort(404)
    value = request.args.get(field, "")
    problem = accounts.availability(field, value) if value.strip() else None
    return render_fragment("auth/register.html", "availability", field=field, value=value, problem=problem)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("5/minute", methods=["POST"], deduct_when=_failed)  # guesses count; logging in does not
def login() -> Response:
    """Log in with email and password; ``next`` only to a page of this site."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = accounts.safe_next(request.args.get("next")) or ""
    if current_user.is_authenticated:
        return redirect_to(accounts.safe_next(form.next.data) or url_for("main.index"))
    retry_after = None
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data)
        except accounts.LockedOut as error:
            form.form_errors.append(error.message)
            retry_after = error.retry_after
        except Invalid as error:
            form.form_errors.append(error.message)
        else:
            session.clear()  # nothing from before the login survives it
            login_user(user, remember=form.remember.data)
            flash(f"Welcome back, {user.username}.")
            return redirect_to(accounts.safe_next(form.next.data) or url_for("main.index"))
    status = 429 if retry_after else 422 if (form.errors or form.form_errors) else 200
    response = _form_page("auth/login.html", form, status)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _has_remember_cookie() -> bool:
    return bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")))


def _end_this_session() -> None:
    # session.clear() first: logout_user() leaves a note in the session asking for the
    # remember-me cookie to be deleted, and clearing after it would throw that note away.
    session.clear()
    logout_user()


@bp.post("/logout")
def logout() -> Response:
    """Log out (POST only, with CSRF, so no page can log you out by a link).

    The account's session version goes up, so no copy of this session or of its remember-me
    cookie works any more, and the user's other sessions end too.
    """
    user = current_user._get_current_object() if current_user.is_authenticated else None
    _end_this_session()
    if user is not None:
        accounts.end_sessions(user)
    flash("You are logged out.")
    return redirect_to(url_for("main.index"))


@bp.post("/sessions/end")
@login_required
def end_sessions() -> Response:
    """Log out everywhere: every session and remember-me cookie of this account, this one included."""
    accounts.end_sessions(current_user._get_current_object())
    _end_this_session()
    flash("You are logged out on every device. Log in again to continue here.")
    return redirect_to(url_for("auth.login"))


@bp.get("/verify/<token>")
def verify(token: str) -> Response:
    """Confirm an email address from the mailed link."""
    try:
        user = accounts.confirm_email(token)
    except Invalid as error:
        return render("auth/message.html", status=400, title="Link not valid", message=error.message,
                      resend=current_user.is_authenticated and not current_user.email_confirmed,
                      form=ConfirmForm())
    flash(f"Thank you: {user.email} is confirmed.")
    return redirect_to(url_for("main.index"))


@bp.post("/verify/resend")
@login_required
@limiter.limit("3/hour", key_func=_user_key)
def resend_verification() -> Response:
    """Mail a new verification link to the logged-in user."""
    if current_user.email_confirmed:
        flash("Your address is already confirmed.")
    else:
        accounts.send_verification(current_user)
        flash(f"We sent a new link to {current_user.email}.")
    return redirect_to(accounts.safe_next(request.form.get("next")) or url_for("main.index"))


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit("3/hour", methods=["POST"], key_func=_email_key)
def reset_request() -> Response:
    """Ask for a password-reset link; the answer never tells whether the address is registered."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        accounts.request_reset(form.email.data)
        return redirect_to(url_for("auth.reset_request", sent=1))
    if request.args.get("sent"):
        return render("auth/message.html", title="Check your email",
                      message="If an account exists for that address, we have sent it a link to choose a new "
                              "password. The link works for one hour.")
    return _form_page("auth/reset_request.html", form, 422 if form.errors else 200)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Response:
    """Choose a new password from a mailed link."""
    try:
        accounts.user_for_reset(token)
    except Invalid as error:
        return render("auth/message.html", status=400, title="Link not valid", message=error.message,
                      reset_again=True)
    form = ResetForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(token, form.password.data)
        except Invalid as error:
            apply_errors(form, error.fields or {"password": [error.message]})
        else:
            _end_this_session()
            flash("Your password is changed. Log in with the new one.")
            return redirect_to(url_for("auth.login"))
    return _form_page("auth/reset.html", form, 422 if form.errors else 200, token=token)


def _profile_form() -> ProfileForm:
    form = ProfileForm()
    if request.method == "GET":
        form.bio.data = current_user.bio
        form.notify_comments.data = current_user.notify_comments
        form.timezone.data = current_user.timezone or ""
        for name in SOCIAL_LINKS:
            getattr(form, name).data = current_user.social_links.get(name, "")
    return form


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> Response:
    """Edit bio, links, avatar, time zone and whether comments are mailed."""
    form = _profile_form()
    if form.validate_on_submit():
        links = {name: getattr(form, name).data for name in SOCIAL_LINKS}
        try:
            # all fields checked before anything is saved
            accounts.validate_profile(form.bio.data, links, form.timezone.data)
            if form.avatar.data:
                media.save_avatar(current_user, form.avatar.data)
            accounts.update_profile(current_user, bio=form.bio.data, links=links, timezone=form.timezone.data)
            accounts.set_notifications(current_user, form.notify_comments.data)
        except Invalid as error:
            apply_errors(form, error.fields or {"bio": [error.message]})
        else:
            flash("Your profile is saved.")
            return redirect_to(url_for("auth.profile"))
    return render("auth/profile.html", block="form", status=422 if form.errors else 200, form=form,
                  password_form=PasswordForm(formdata=None), api_tokens=tokens.active(current_user))


@bp.post("/password")
@login_required
def password() -> Response:
    """Change the password (the current one is asked again); a notice is mailed."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.password.data)
        except Invalid as error:
            apply_errors(form, error.fields or {"password": [error.message]})
        else:
            # The session id carries a fingerprint of the password hash and the session version,
            # so the change logged out every session; log this one in again under the new id.
            login_user(current_user._get_current_object(), remember=_has_remember_cookie())
            flash("Your password is changed.")
            return redirect_to(url_for("auth.profile"))
    return render("auth/profile.html", block="password_form", status=422, form=_profile_form(),
                  password_form=form, api_tokens=tokens.active(current_user))


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    """Revoke one of your API tokens from the profile page; it stops working at once."""
    token = tokens.revoke_for(current_user, token_id)
    flash(f"The token “{token.name or 'API client'}” is revoked.")
    return redirect_to(url_for("auth.profile", _anchor="api-tokens"))


# The signed token in the URL is the whole authentication: the link works from the mail, logged out
# and with no session, hence no CSRF token (which lives in the session). A forged cross-site POST
# would need the token, and the worst it can do is turn notifications off.
@csrf.exempt
@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Response:
    """Stop comment notifications from the link in such a mail: GET asks, POST does it.

    GET changes nothing, because mail scanners open links; the page asks with one button.
    """
    try:
        user = accounts.user_for_unsubscribe(token)
    except Invalid as error:
        return render("auth/unsubscribe.html", status=400, error=error.message)
    if request.method == "POST":
        accounts.set_notifications(user, False)
        return redirect_to(url_for("auth.unsubscribe", token=token))  # the page now says they are off
    return render("auth/unsubscribe.html", user=user, token=token)
