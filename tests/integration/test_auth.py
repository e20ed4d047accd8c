"""Accounts through the browser-facing views: register, verify, log in/out, reset, profile, roles."""
from __future__ import annotations

import io
import re
import time
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import User
from blog.models import utcnow
from blog.permissions import role_required
from blog.permissions import verified_required
from blog.services import accounts
from tests.conftest import HX
from tests.conftest import read_outbox
from tests.factories import link_in
from tests.factories import login_as
from tests.factories import make_user

PASSWORD = "correct horse battery"


def users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def register(client, username="newbie", email="newbie@example.com", password="a sturdy passphrase", **kw):
    data = {"username": username, "email": email, "password": password, "confirm": kw.pop("confirm", password)}
    return client.post("/auth/register", data=data, **kw)


def png_bytes(size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def in_the_future(monkeypatch, seconds: int) -> None:
    """Make itsdangerous believe ``seconds`` have passed."""
    import itsdangerous.timed

    now = time.time() + seconds
    monkeypatch.setattr(itsdangerous.timed, "time", type("T", (), {"time": staticmethod(lambda: now)}))


# --- registration -------------------------------------------------------------------------

def test_register_page_checks_availability_as_you_type(client):
    html = client.get("/auth/register").text
    assert 'hx-get="/auth/check/username"' in html and 'hx-trigger="input changed delay:400ms"' in html
    assert 'hx-sync="this:replace"' in html and 'id="username-status"' in html


def test_registration_logs_in_and_mails_a_verification_link(client, app):
    response = register(client)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    user = db.session.scalar(select(User).filter_by(username="newbie"))
    assert user.role == "reader" and not user.email_confirmed and user.check_password("a sturdy passphrase")
    page = client.get("/").text
    # The welcome flash asks to confirm; the reminder banner waits for the next page (no repeat).
    assert "newbie" in page and "open it to confirm your address" in page
    assert "Please confirm your email address" in client.get("/").text
    [message] = outbox(app)
    assert message["To"] == "newbie@example.com" and "Confirm" in message["Subject"]
    verify = link_in(message, "/auth/verify/")
    response = client.get(verify)
    assert response.status_code == 303
    db.session.refresh(user)
    assert user.email_confirmed
    assert "is confirmed" in client.get("/").text
    assert "Please confirm your email address" not in client.get("/").text


def test_htmx_registration_with_errors_swaps_the_form_with_422_and_writes_nothing(client):
    response = register(client, username="x", email="nope", password="short", confirm="other", headers=HX)
    assert response.status_code == 422
    html = response.text.lstrip()
    assert html.startswith('<form id="register-form"') and "<html" not in html
    assert "Use 3–40 letters" in html and "Enter a valid email address." in html
    assert "The passwords do not match." in html
    assert users() == 0


@pytest.mark.parametrize("password, message", [
    ("", "This field is required."),
    ("short", "at least 10 characters"),
    ("password1234", "too common"),
    ("newbie-user", None),
    ("x" * 73, "at most 72 bytes"),
])
def test_password_rules(client, password, message):
    response = register(client, username="newbie-user", password=password)
    assert response.status_code == 422
    assert (message or "must differ from your username") in response.text
    assert users() == 0


@pytest.mark.parametrize("field, value, message", [
    ("username", "a" * 41, "Field cannot be longer than 40 characters."),
    ("username", "", "This field is required."),
    ("email", "not-an-email", "Enter a valid email address."),
    ("email", "a@" + "b" * 260 + ".com", "Field cannot be longer than 254 characters."),
])
def test_bad_fields_are_refused_with_a_message(client, field, value, message):
    response = register(client, **{field: value})
    assert response.status_code == 422 and message in response.text
    assert users() == 0


def test_duplicate_username_or_email_is_a_form_error(client):
    make_user(username="taken", email="taken@example.com")
    assert "That username is taken." in register(client, username="TAKEN").text
    assert "That email is already registered." in register(client, email="Taken@Example.com").text
    assert users() == 1


def test_a_registration_race_lost_at_the_unique_constraint_is_a_form_error(client, monkeypatch):
    make_user(username="racer", email="racer@example.com")
    real = accounts._conflicts
    calls = []

    def racing_check(username, email):
        # The first check runs "before" the other insert, so it sees nothing; later ones see the row.
        calls.append(username)
        return {} if len(calls) == 1 else real(username, email)

    monkeypatch.setattr(accounts, "_conflicts", racing_check)
    response = register(client, username="racer", email="other@example.com")
    assert response.status_code == 422 and "That username is taken." in response.text
    assert users() == 1


@pytest.mark.parametrize("field, value, expected", [
    ("username", "free_name", "Available."),
    ("username", "taken", "That username is taken."),
    ("username", "no spaces", "Use 3–40 letters"),
    ("email", "not-an-address", "Enter a valid email address."),
    ("email", "free@example.com", "></small>"),  # the shape only: see test_security_hardening
])
def test_availability_check(client, field, value, expected):
    make_user(username="taken", email="taken@example.com")
    response = client.get(f"/auth/check/{field}", query_string={field: value}, headers=HX)
    assert response.status_code == 200
    assert response.text.startswith(f'<small id="{field}-status"') and expected in response.text
    assert client.get("/auth/check/password", query_string={"password": "x"}).status_code == 404


def test_registration_is_limited_to_three_accounts_an_hour_per_address(client):
    for n in range(3):
        register(client, username=f"user{n}", email=f"user{n}@example.com", confirm="typo")  # errors: free
        assert register(client, username=f"user{n}", email=f"user{n}@example.com").status_code == 303
        client.post("/auth/logout")
    limited = register(client, username="user9", email="user9@example.com")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert users() == 3


def test_csrf_is_required_to_register(app):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = register(client)
    assert response.status_code == 400
    assert users() == 0


# --- verification -------------------------------------------------------------------------

def test_tampered_and_expired_verification_links_are_refused(client, app, monkeypatch):
    user = make_user(email_confirmed=False)
    token = accounts.verification_token(user)
    tampered = client.get(f"/auth/verify/{token[:-3]}xyz")
    assert tampered.status_code == 400 and "not valid" in tampered.text
    in_the_future(monkeypatch, int(accounts.VERIFY_MAX_AGE.total_seconds()) + 5)
    expired = client.get(f"/auth/verify/{token}")
    assert expired.status_code == 400 and "expired" in expired.text
    db.session.refresh(user)
    assert not user.email_confirmed


def test_unverified_users_can_ask_for_a_new_link_three_times_an_hour(client, app):
    user = make_user(email_confirmed=False)
    login_as(client, user)
    for _ in range(3):
        assert client.post("/auth/verify/resend").status_code == 303
    assert len(outbox(app)) == 3
    limited = client.post("/auth/verify/resend")
    assert limited.status_code == 429 and "Retry-After" in limited.headers


def test_unverified_users_are_kept_out_of_writing(app, client):
    @app.get("/write-something")
    @verified_required
    def write_something():
        return "writing"

    unverified = make_user(email_confirmed=False)
    login_as(client, unverified)
    response = client.get("/write-something")
    assert response.status_code == 403 and "Confirm your email address first" in response.text
    login_as(client, make_user(email_confirmed=True))
    assert client.get("/write-something").text == "writing"


# --- login and logout ---------------------------------------------------------------------

def test_login_and_logout(client):
    make_user(username="ada", email="ada@example.com", password=PASSWORD)
    response = client.post("/auth/login", data={"email": "ADA@example.com ", "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "Log out" in client.get("/").text
    assert client.get("/auth/logout").status_code == 405  # never by a link
    assert client.post("/auth/logout").status_code == 303
    assert "Log in" in client.get("/").text


def test_wrong_password_and_unknown_email_get_the_same_answer(client):
    make_user(email="ada@example.com", password=PASSWORD)
    wrong = client.post("/auth/login", data={"email": "ada@example.com", "password": "not the one at all"})
    unknown = client.post("/auth/login", data={"email": "who@example.com", "password": "not the one at all"})
    assert wrong.status_code == unknown.status_code == 422
    assert accounts.GENERIC_LOGIN_ERROR in wrong.text and accounts.GENERIC_LOGIN_ERROR in unknown.text


@pytest.mark.parametrize("target, expected", [
    ("/blog/some-post", "/blog/some-post"),
    ("/tag/x?page=2", "/tag/x?page=2"),
    ("//evil.example/steal", "/"),
    ("https://evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("", "/"),
])
def test_next_is_honoured_only_for_same_site_paths(client, target, expected):
    make_user(email="ada@example.com", password=PASSWORD)
    response = client.post("/auth/login", data={"email": "ada@example.com", "password": PASSWORD, "next": target})
    assert response.headers["Location"] == expected


def test_login_page_keeps_a_safe_next_and_drops_an_unsafe_one(client):
    assert 'value="/blog/x"' in client.get("/auth/login?next=/blog/x").text
    assert "evil" not in client.get("/auth/login?next=https://evil.example").text


def test_remember_me_sets_a_long_lived_http_only_cookie(client):
    make_user(email="ada@example.com", password=PASSWORD)
    response = client.post("/auth/login", data={"email": "ada@example.com", "password": PASSWORD, "remember": "y"})
    cookies = response.headers.getlist("Set-Cookie")
    remember = next(c for c in cookies if c.startswith("remember_token="))
    assert "HttpOnly" in remember and "SameSite=Lax" in remember and "Expires=" in remember
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


def test_a_locked_account_answers_429_with_retry_after(client):
    user = make_user(email="ada@example.com", password=PASSWORD)
    user.failed_logins, user.locked_until = 6, utcnow() + timedelta(minutes=2)
    db.session.commit()
    response = client.post("/auth/login", data={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed attempts" in response.text and 100 < int(response.headers["Retry-After"]) <= 121


def test_login_is_limited_to_five_failed_tries_a_minute_per_address(client):
    make_user(email="ada@example.com", password=PASSWORD)
    for _ in range(3):  # successful logins do not count
        assert client.post("/auth/login", data={"email": "ada@example.com", "password": PASSWORD}).status_code == 303
        client.post("/auth/logout")
    for _ in range(5):
        client.post("/auth/login", data={"email": "x@example.com", "password": "wrong password"})
    limited = client.post("/auth/login", data={"email": "ada@example.com", "password": PASSWORD})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_deactivated_users_cannot_log_in_and_are_logged_out(client):
    user = make_user(email="ada@example.com", password=PASSWORD)
    login_as(client, user)
    assert "Log out" in client.get("/").text
    user.is_active = False
    db.session.commit()
    assert "Log out" not in client.get("/").text  # the next request has no user
    response = client.post("/auth/login", data={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 422 and "deactivated" in response.text


def test_login_required_pages_send_guests_to_login_and_back(client):
    response = client.get("/auth/profile")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/auth/profile"
    htmx = client.get("/auth/profile", headers=HX)
    assert htmx.headers["HX-Redirect"] == "/auth/login?next=/auth/profile"


# --- password reset -----------------------------------------------------------------------

def test_reset_answers_the_same_for_known_and_unknown_addresses(client, app):
    make_user(email="ada@example.com", password=PASSWORD)
    known = client.post("/auth/reset", data={"email": "ada@example.com"})
    unknown = client.post("/auth/reset", data={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"] == "/auth/reset?sent=1"
    assert "If an account exists for that address" in client.get("/auth/reset?sent=1").text
    assert [m["To"] for m in outbox(app)] == ["ada@example.com"]


def test_reset_link_sets_a_new_password_once_and_mails_a_notice(client, app):
    user = make_user(email="ada@example.com", password=PASSWORD)
    client.post("/auth/reset", data={"email": "ada@example.com"})
    link = link_in(outbox(app)[0], "/auth/reset/")
    assert "Choose a new password" in client.get(link).text
    weak = client.post(link, data={"password": "password1234", "confirm": "password1234"})
    assert weak.status_code == 422 and "too common" in weak.text
    done = client.post(link, data={"password": "a brand new secret", "confirm": "a brand new secret"})
    assert done.status_code == 303 and done.headers["Location"] == "/auth/login"
    db.session.refresh(user)
    assert user.check_password("a brand new secret")
    assert client.get(link).status_code == 400  # dead once the password changed
    notice = outbox(app)[-1]
    assert notice["To"] == "ada@example.com" and "password was changed" in notice["Subject"]


def test_reset_link_expires_after_an_hour(client, app, monkeypatch):
    user = make_user(email="ada@example.com", password=PASSWORD)
    token = accounts.reset_token(user)
    in_the_future(monkeypatch, 3601)
    response = client.get(f"/auth/reset/{token}")
    assert response.status_code == 400 and "expired" in response.text


def test_reset_requests_are_limited_to_three_an_hour_per_address(client):
    for _ in range(3):
        assert client.post("/auth/reset", data={"email": "ada@example.com"}).status_code == 303
    limited = client.post("/auth/reset", data={"email": "ADA@example.com"})
    assert limited.status_code == 429
    assert client.post("/auth/reset", data={"email": "other@example.com"}).status_code == 303


def test_changing_the_password_logs_out_other_sessions(app, client):
    user = make_user(email="ada@example.com", password=PASSWORD)
    other = app.test_client()
    login_as(client, user)
    login_as(other, user)
    response = client.post("/auth/password", data={"current_password": PASSWORD, "password": "another good one",
                                                   "confirm": "another good one"})
    assert response.status_code == 303
    assert "Log out" in client.get("/").text  # this session goes on
    from flask import g
    g.pop("_login_user", None)
    assert "Log out" not in other.get("/").text  # the other one is over


def test_wrong_current_password_changes_nothing(client):
    user = make_user(email="ada@example.com", password=PASSWORD)
    login_as(client, user)
    response = client.post("/auth/password", data={"current_password": "not it at all", "password": "another good one",
                                                   "confirm": "another good one"}, headers=HX)
    assert response.status_code == 422 and "The current password is wrong." in response.text
    db.session.refresh(user)
    assert user.check_password(PASSWORD)


# --- profile ------------------------------------------------------------------------------

def test_profile_saves_bio_links_and_avatar(client, app):
    user = make_user(username="ada")
    login_as(client, user)
    response = client.post("/auth/profile", data={
        "bio": "Engines and notes.", "website": "https://ada.example", "github": "",
        "avatar": (io.BytesIO(png_bytes()), "me.png"),
    }, content_type="multipart/form-data")
    assert response.status_code == 303, response.text
    db.session.refresh(user)
    assert user.bio == "Engines and notes." and user.social_links == {"website": "https://ada.example"}
    assert user.avatar and user.avatar_processed
    public = client.get("/user/ada").text
    assert "Engines and notes." in public and 'href="https://ada.example"' in public
    assert 'class="avatar' in client.get("/auth/profile").text


@pytest.mark.parametrize("link", ["javascript:alert(1)", "ftp://files.example", "not a url", "//x.example"])
def test_bad_links_are_refused_and_nothing_is_saved(client, app, link):
    user = make_user(username="ada")
    login_as(client, user)
    response = client.post("/auth/profile", data={
        "bio": "New bio", "website": link, "avatar": (io.BytesIO(png_bytes()), "me.png"),
    }, content_type="multipart/form-data", headers=HX)
    assert response.status_code == 422 and "http:// or https://" in response.text
    db.session.refresh(user)
    assert user.bio == "" and user.avatar is None
    uploads = list((__import__("pathlib").Path(app.config["UPLOAD_FOLDER"])).rglob("*.*"))
    assert uploads == []


def test_an_upload_that_is_not_an_image_is_refused(client, app):
    user = make_user(username="ada")
    login_as(client, user)
    response = client.post("/auth/profile", data={
        "bio": "", "avatar": (io.BytesIO(b"<?php echo 'hi'; ?>"), "innocent.png"),
    }, content_type="multipart/form-data")
    assert response.status_code == 422
    db.session.refresh(user)
    assert user.avatar is None


# --- roles --------------------------------------------------------------------------------

@pytest.fixture
def author_only(app):
    @app.get("/author-desk")
    @role_required("author")
    def author_desk():
        return "desk"

    return app


@pytest.mark.parametrize("role, status", [("reader", 403), ("author", 200), ("moderator", 200), ("admin", 200)])
def test_role_required_lets_in_that_role_and_above(author_only, client, role, status):
    login_as(client, make_user(role=role))
    assert client.get("/author-desk").status_code == status


def test_role_required_sends_guests_to_login(author_only, client):
    assert client.get("/author-desk").headers["Location"].startswith("/auth/login")


def test_forbidden_page_is_friendly(author_only, client):
    login_as(client, make_user(role="reader"))
    response = client.get("/author-desk")
    assert "Not allowed" in response.text and "<html" in response.text


def outbox(app) -> list:
    return read_outbox(app.config["MAIL_OUTBOX"])


def test_registration_mail_travels_over_smtp(client, app, smtp_server):
    app.config.update(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)
    register(client, username="smtpuser", email="smtpuser@example.com")
    [message] = smtp_server.messages
    assert message["To"] == "smtpuser@example.com" and message["Subject"] == "Confirm your email address"
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "/auth/verify/" in html
    assert client.get(link_in(message, "/auth/verify/")).status_code == 303
    assert db.session.scalar(select(User).filter_by(username="smtpuser")).email_confirmed
    assert outbox(app) == []  # SMTP, not the file outbox


def test_an_overlong_password_at_login_is_just_wrong(client):
    make_user(email="ada@example.com", password=PASSWORD)
    response = client.post("/auth/login", data={"email": "ada@example.com", "password": "x" * 150})
    assert response.status_code == 422 and accounts.GENERIC_LOGIN_ERROR in response.text


def test_a_visitor_without_cookies_is_a_guest_at_once_and_a_session_still_signs_in(app, client):
    from flask_login import user_accessed

    loads = []
    user_accessed.connect(loads.append, app, weak=False)  # sent by Flask-Login's own loading only
    try:
        page = client.get("/")  # no cookie of any kind
        assert page.status_code == 200 and "Log in" in page.text and loads == []
        user = make_user(username="returning", password=PASSWORD)
        login_as(client, user)
        assert "returning" in client.get("/").text and len(loads) == 1
        # A remember-me cookie alone (no session) still goes Flask-Login's way: a forged one is a guest.
        other = app.test_client()
        other.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), "1|forged")
        assert "Log in" in other.get("/").text and len(loads) == 2
    finally:
        user_accessed.disconnect(loads.append, app)
