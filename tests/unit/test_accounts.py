"""Creating accounts: validation and uniqueness."""
from __future__ import annotations

import pytest

from blog.services import accounts
from blog.services.errors import Conflict
from blog.services.errors import Invalid


def test_create_user_hashes_the_password_and_normalises_email(app):
    user = accounts.create_user("ada", "Ada@Example.COM", "analytical-engine", role="author")
    assert user.email == "ada@example.com"
    assert user.password_hash != "analytical-engine"
    assert user.check_password("analytical-engine")
    assert not user.check_password("wrong-password")


@pytest.mark.parametrize("username, email, password, field", [
    ("a", "a@example.com", "long enough password", "username"),
    ("has space", "a@example.com", "long enough password", "username"),
    ("ada", "not-an-email", "long enough password", "email"),
    ("ada", "ada@example.com", "short", "password"),
    ("ada", "ada@example.com", "x" * 73, "password"),
    ("adalovelace", "ada@example.com", "adalovelace", "password"),
])
def test_invalid_accounts_are_refused_with_a_field_error(app, username, email, password, field):
    with pytest.raises(Invalid) as error:
        accounts.create_user(username, email, password)
    assert field in error.value.fields


def test_duplicate_username_or_email_is_a_conflict(app):
    accounts.create_user("ada", "ada@example.com", "analytical-engine")
    with pytest.raises(Conflict):
        accounts.create_user("ADA", "other@example.com", "analytical-engine")
    with pytest.raises(Conflict):
        accounts.create_user("other", "ADA@example.com", "analytical-engine")


def test_unknown_role_is_refused(app):
    with pytest.raises(Invalid) as error:
        accounts.create_user("ada", "ada@example.com", "analytical-engine", role="king")
    assert "role" in error.value.fields
