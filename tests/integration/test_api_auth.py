"""API tokens: logging in for one, sending it, its expiry and revocation, and the profile page's list."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import ApiToken
from blog.models import Post
from blog.models import utcnow
from blog.services import tokens
from tests.factories import login_as
from tests.factories import make_user

API = "/api/v1"
PASSWORD = "correct horse battery"
NEW_POST = {"title": "From a script", "body": "Written **through** the API."}


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def login(client, email: str, password: str = PASSWORD, **kw):
    return client.post(f"{API}/auth/login", json={"email": email, "password": password}, **kw)


def post_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Post))


# --- logging in ---------------------------------------------------------------------------

def test_login_answers_201_with_a_token_that_expires_in_thirty_days(client):
    user = make_user()
    response = login(client, user.email)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    assert response.headers["Cache-Control"] == "no-store"
    expires = body["expires_at"]
    assert expires.endswith("Z")
    row = db.session.scalar(select(ApiToken))
    assert abs((row.expires_at - utcnow()) - timedelta(days=30)) < timedelta(minutes=1)
    assert expires == row.expires_at.replace(microsecond=0).isoformat() + "Z"


def test_only_a_sha256_digest_of_the_token_is_stored(client):
    user = make_user()
    raw = login(client, user.email).get_json()["token"]
    row = db.session.scalar(select(ApiToken))
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {row.token_hash, row.name}


def test_token_lifetime_follows_api_token_days(client, app):
    app.config["API_TOKEN_DAYS"] = 2
    user = make_user()
    login(client, user.email)
    row = db.session.scalar(select(ApiToken))
    assert abs((row.expires_at - utcnow()) - timedelta(days=2)) < timedelta(minutes=1)


def test_token_is_named_after_the_client(client):
    user = make_user()
    login(client, user.email, headers={"User-Agent": "blog-cli/1.2"})
    assert db.session.scalar(select(ApiToken.name)) == "blog-cli/1.2"


def test_a_wrong_password_or_unknown_email_is_401_with_one_message(client):
    user = make_user()
    wrong = login(client, user.email, "not the password")
    unknown = login(client, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json() == {
        "error": "Unauthorized", "message": "Invalid email or password.", "status": 401}
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("payload, field", [
    ({"email": "a@example.com"}, "password"),
    ({"password": "x" * 12}, "email"),
    ({"email": 5, "password": "x" * 12}, "email"),
    ({"email": "a@example.com", "password": "x" * 12, "remember": True}, "remember"),
    ({"email": "a@example.com", "password": "é" * 40}, "password"),  # 80 bytes: bcrypt's limit is 72
])
def test_login_with_missing_unknown_or_bad_fields_is_422(client, payload, field):
    response = client.post(f"{API}/auth/login", json=payload)
    assert response.status_code == 422
    assert field in response.get_json()["fields"]


def test_login_needs_json(client):
    assert client.post(f"{API}/auth/login", data={"email": "a", "password": "b"}).status_code == 415
    assert client.post(f"{API}/auth/login", data="{nope", content_type="application/json").status_code == 400


def test_login_is_limited_to_five_failed_tries_a_minute_per_address(client):
    for n in range(5):
        assert login(client, f"guess{n}@example.com").status_code == 401
    limited = login(client, "guess9@example.com")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.get_json()["status"] == 429


def test_successful_logins_do_not_use_up_the_failed_tries(client):
    user = make_user()
    for _ in range(6):
        assert login(client, user.email).status_code == 201


def test_a_locked_account_is_429_with_retry_after(client):
    user = make_user(failed_logins=6, locked_until=utcnow() + timedelta(minutes=4))
    response = login(client, user.email)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 200
    assert "Try again in" in response.get_json()["message"]


def test_repeated_failures_lock_the_account_as_on_the_web(client, app):
    user = make_user()
    for _ in range(5):
        login(client, user.email, "wrong password!")
    db.session.refresh(user)
    assert user.locked_until is not None
    assert login(client, user.email).status_code == 429  # even the right password waits


# --- sending the token --------------------------------------------------------------------

def test_a_token_authorises_writes(client):
    user = make_user()
    raw = login(client, user.email).get_json()["token"]
    assert client.post(f"{API}/posts", json=NEW_POST, headers=bearer(raw)).status_code == 201


@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-real-token", "Token abc"])
def test_writes_without_a_valid_bearer_token_are_401(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.post(f"{API}/posts", json=NEW_POST, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(response.get_json()) == {"error", "message", "status"}
    assert post_count() == 0


def test_a_refused_token_says_invalid_token_in_the_challenge(client):
    response = client.get(f"{API}/posts", headers=bearer("made-up"))
    assert response.status_code == 401  # even where guests may read: a bad token is never ignored
    assert "invalid_token" in response.headers["WWW-Authenticate"]


def test_an_expired_token_is_401(client):
    user = make_user()
    raw, token = tokens.issue(user)
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.post(f"{API}/posts", json=NEW_POST, headers=bearer(raw)).status_code == 401


def test_a_deactivated_account_s_token_is_401(client):
    user = make_user()
    raw, _ = tokens.issue(user)
    user.is_active = False
    db.session.commit()
    assert client.get(f"{API}/posts", headers=bearer(raw)).status_code == 401


def test_a_logged_in_browser_session_is_not_api_auth(client):
    user = make_user()
    login_as(client, user)
    assert client.get("/auth/profile").status_code == 200  # the cookie works on the site...
    response = client.post(f"{API}/posts", json=NEW_POST)
    assert response.status_code == 401  # ...and means nothing to the API
    assert post_count() == 0


def test_the_api_needs_no_csrf_token(client, app):
    app.config["WTF_CSRF_ENABLED"] = True
    user = make_user()
    raw, _ = tokens.issue(user)
    assert client.post(f"{API}/posts", json=NEW_POST, headers=bearer(raw)).status_code == 201


def test_last_used_at_is_recorded_at_most_every_few_minutes(client, count_queries):
    user = make_user()
    raw, token = tokens.issue(user)
    assert token.last_used_at is None
    client.get(f"{API}/posts", headers=bearer(raw))
    first = db.session.get(ApiToken, token.id).last_used_at
    assert first is not None
    with count_queries() as counted:
        client.get(f"{API}/posts", headers=bearer(raw))
    assert not [s for s in counted.statements if s.lstrip().upper().startswith("UPDATE")]
    assert db.session.get(ApiToken, token.id).last_used_at == first
    token.last_used_at = utcnow() - tokens.TOUCH_EVERY - timedelta(seconds=1)
    db.session.commit()
    client.get(f"{API}/posts", headers=bearer(raw))
    assert db.session.get(ApiToken, token.id).last_used_at > first


# --- revoking -----------------------------------------------------------------------------

def test_delete_auth_token_revokes_the_token_used(client):
    user = make_user()
    raw = login(client, user.email).get_json()["token"]
    other = login(client, user.email).get_json()["token"]
    response = client.delete(f"{API}/auth/token", headers=bearer(raw))
    assert response.status_code == 204 and response.data == b""
    assert client.post(f"{API}/posts", json=NEW_POST, headers=bearer(raw)).status_code == 401
    assert client.post(f"{API}/posts", json=NEW_POST, headers=bearer(other)).status_code == 201


def test_revoking_needs_a_token(client):
    response = client.delete(f"{API}/auth/token")
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers


def test_a_new_password_ends_every_api_token(client):
    user = make_user()
    raw, _ = tokens.issue(user)
    login_as(client, user)
    client.post("/auth/password", data={"current_password": PASSWORD, "password": "a brand new passphrase",
                                        "confirm": "a brand new passphrase"})
    assert client.get(f"{API}/posts", headers=bearer(raw)).status_code == 401


# --- the profile page ---------------------------------------------------------------------

def test_profile_lists_live_tokens_with_a_revoke_button(client):
    user = make_user()
    _, mine = tokens.issue(user, name="deploy script")
    _, gone = tokens.issue(user, name="old laptop")
    tokens.revoke(gone)
    _, theirs = tokens.issue(make_user(), name="someone else's")
    login_as(client, user)
    html = client.get("/auth/profile").text
    assert "deploy script" in html and "old laptop" not in html and "someone else" not in html
    assert f'action="/auth/tokens/{mine.id}/revoke"' in html
    assert 'name="csrf_token"' in html


def test_revoking_from_the_profile_page_ends_the_token(client):
    user = make_user()
    raw, token = tokens.issue(user, name="deploy script")
    login_as(client, user)
    response = client.post(f"/auth/tokens/{token.id}/revoke")
    assert response.status_code == 303 and response.headers["Location"].endswith("/auth/profile#api-tokens")
    assert db.session.get(ApiToken, token.id).revoked_at is not None
    assert client.get(f"{API}/posts", headers=bearer(raw)).status_code == 401
    page = client.get("/auth/profile").text
    assert "The token “deploy script” is revoked." in page and f'id="token-{token.id}"' not in page


def test_nobody_revokes_someone_else_s_token(client):
    _, token = tokens.issue(make_user())
    login_as(client, make_user())
    assert client.post(f"/auth/tokens/{token.id}/revoke").status_code == 404
    assert db.session.get(ApiToken, token.id).revoked_at is None


def test_revoking_from_the_profile_page_needs_csrf_and_a_login(client, app):
    user = make_user()
    _, token = tokens.issue(user)
    assert client.post(f"/auth/tokens/{token.id}/revoke").status_code == 302  # to the login page
    app.config["WTF_CSRF_ENABLED"] = True
    login_as(client, user)
    assert client.post(f"/auth/tokens/{token.id}/revoke").status_code == 400
    assert db.session.get(ApiToken, token.id).revoked_at is None
