"""Login back-off and tokens at the service level, with an explicit clock."""
from __future__ import annotations

from datetime import timedelta

import pytest

from blog.extensions import db
from blog.models import utcnow
from blog.services import accounts
from blog.services.errors import Invalid
from tests.factories import make_user

PASSWORD = "correct horse battery"


def test_five_failures_are_free_then_the_lock_doubles_up_to_an_hour(app):
    user = make_user(email="ada@example.com", password=PASSWORD)
    now = utcnow()
    locks = []
    for attempt in range(1, 13):
        with pytest.raises(Invalid) as error:
            accounts.authenticate("ada@example.com", "wrong password!", now=now)
        assert not isinstance(error.value, accounts.LockedOut)
        db.session.refresh(user)
        locks.append(user.locked_until and round((user.locked_until - now).total_seconds() / 60))
        now = (user.locked_until or now) + timedelta(seconds=1)  # wait out each lock
    assert locks[:4] == [None, None, None, None]
    assert locks[4:] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_while_locked_even_the_right_password_is_not_checked(app):
    user = make_user(email="ada@example.com", password=PASSWORD)
    now = utcnow()
    for _ in range(5):
        with pytest.raises(Invalid):
            accounts.authenticate("ada@example.com", "wrong password!", now=now)
    with pytest.raises(accounts.LockedOut) as locked:
        accounts.authenticate("ada@example.com", PASSWORD, now=now + timedelta(seconds=10))
    assert 0 < locked.value.retry_after <= 60
    later = now + timedelta(minutes=2)
    assert accounts.authenticate("ada@example.com", PASSWORD, now=later) == user
    db.session.refresh(user)
    assert user.failed_logins == 0 and user.locked_until is None


def test_unknown_addresses_are_never_locked_and_say_the_same(app):
    for _ in range(8):
        with pytest.raises(Invalid) as error:
            accounts.authenticate("nobody@example.com", "whatever it is")
        assert error.value.message == accounts.GENERIC_LOGIN_ERROR


def test_reset_tokens_die_when_the_password_changes(app):
    user = make_user(password=PASSWORD)
    token = accounts.reset_token(user)
    assert accounts.user_for_reset(token) == user
    accounts.reset_password(token, "a completely new one")
    with pytest.raises(Invalid, match="already been used"):
        accounts.user_for_reset(token)


def test_a_verification_token_is_for_one_address(app):
    user = make_user(email="old@example.com", email_confirmed=False)
    token = accounts.verification_token(user)
    user.email = "new@example.com"
    db.session.commit()
    with pytest.raises(Invalid):
        accounts.confirm_email(token)


def test_tokens_of_one_kind_do_not_work_as_the_other(app):
    user = make_user(email_confirmed=False)
    with pytest.raises(Invalid):
        accounts.confirm_email(accounts.reset_token(user))
    with pytest.raises(Invalid):
        accounts.user_for_reset(accounts.verification_token(user))


@pytest.mark.parametrize("target, safe", [
    ("/a", True), ("/a?b=c#d", True), ("//evil", False), ("https://evil", False), ("/\\evil", False),
    ("evil", False), ("/a\nb", False), ("", False),
])
def test_safe_next(target, safe):
    assert (accounts.safe_next(target) == target) is safe


def test_check_owner_lets_owners_and_moderators_through(app):
    from blog.permissions import can_manage
    from blog.permissions import check_owner
    from blog.services.errors import NotAllowed

    owner, other, moderator = make_user(), make_user(role="author"), make_user(role="moderator")
    assert can_manage(owner, owner.id) and can_manage(moderator, owner.id)
    assert not can_manage(other, owner.id) and not can_manage(None, owner.id)
    with pytest.raises(NotAllowed):
        check_owner(other, owner.id)
