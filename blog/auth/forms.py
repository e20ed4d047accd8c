"""Account forms. They check shape (required, lengths, matching passwords); the rules live in services.accounts."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import URLField
from wtforms.validators import DataRequired
from wtforms.validators import EqualTo
from wtforms.validators import Length
from wtforms.validators import Optional

from blog.services.accounts import MAX_BIO


class RegisterForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=40)],
                           description="3–40 letters, digits, dots, dashes or underscores.")
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)],
                             description="At least 10 characters, not a common password.")
    confirm = PasswordField("Repeat the password",
                            validators=[DataRequired(), EqualTo("password", "The passwords do not match.")])


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me logged in on this device")
    next = HiddenField()


class ResetRequestForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])


class ResetForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=200)],
                             description="At least 10 characters, not a common password.")
    confirm = PasswordField("Repeat the new password",
                            validators=[DataRequired(), EqualTo("password", "The passwords do not match.")])


class PasswordForm(ResetForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])


class ProfileForm(FlaskForm):
    bio = TextAreaField("Bio", validators=[Optional(), Length(max=MAX_BIO)],
                        description="A few words about you, shown on your public profile.")
    website = URLField("Website", validators=[Optional(), Length(max=300)])
    github = URLField("GitHub", validators=[Optional(), Length(max=300)])
    mastodon = URLField("Mastodon", validators=[Optional(), Length(max=300)])
    bluesky = URLField("Bluesky", validators=[Optional(), Length(max=300)])
    linkedin = URLField("LinkedIn", validators=[Optional(), Length(max=300)])
    avatar = FileField("Avatar", description="JPEG, PNG, GIF or WebP, up to 2 MB; cropped to a square.")
    timezone = StringField("Time zone", validators=[Optional(), Length(max=64)],
                           description="An IANA name such as Europe/Berlin or America/New_York: times are shown "
                                       "and typed in it. Empty: the site's zone.")
    notify_comments = BooleanField("Mail me about comments on my posts and replies to my comments")


class ConfirmForm(FlaskForm):
    """A button that only needs CSRF protection (log out, resend the verification link)."""


def apply_errors(form: FlaskForm, fields: dict[str, list[str]]) -> None:
    """Show a service's per-field errors on the matching form fields (others on the form)."""
    for name, messages in fields.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
        else:
            form.form_errors.extend(messages)
