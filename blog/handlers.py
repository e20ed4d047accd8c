"""Receivers of domain signals: mail that follows account events. Views never send mail themselves."""
from __future__ import annotations

from blog import signals
from blog.models import User
from blog.services import accounts


def send_verification_mail(sender, user: User, **extra) -> None:
    """A new account gets a link to confirm its address (admins created as verified do not)."""
    if not user.email_confirmed:
        from blog.services import mail

        mail.compose("verify_email", user.email, "verify_email", "Confirm your email address",
                     user=user, token=accounts.verification_token(user))


def send_password_notice(sender, user: User, **extra) -> None:
    """Tell the owner their password changed, in case it was not them."""
    from blog.services import mail

    mail.compose("password_changed", user.email, "password_changed", "Your password was changed", user=user)


def connect() -> None:
    """Subscribe the receivers (idempotent: blinker keeps one connection per receiver)."""
    signals.user_registered.connect(send_verification_mail)
    signals.password_changed.connect(send_password_notice)
