"""Accounts end to end: register → verify from the outbox → log in → profile with avatar → log out,
and a password reset; each with JavaScript on and off. Mail goes through the real Huey consumer."""
from __future__ import annotations

import email
import email.policy
import io
import re
import time
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page
from playwright.sync_api import expect

JS_ON_AND_OFF = pytest.mark.parametrize("js", [
    pytest.param(True, id="js"),
    pytest.param(False, id="no-js", marks=pytest.mark.browser_context_args(java_script_enabled=False)),
])


def wait_for_mail(live_server, to: str, subject: str, timeout: float = 20) -> email.message.EmailMessage:
    """The newest mail to ``to`` whose subject contains ``subject``, once the worker has written it."""
    outbox = Path(live_server.path) / "outbox"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml"), reverse=True) if outbox.exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == to and subject in message["Subject"]:
                return message
        time.sleep(0.2)
    raise AssertionError(f"no mail '{subject}' to {to} within {timeout} s")


def link_in(message, path: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://\S+" + re.escape(path) + r"\S+", text).group(0)


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def avatar_png(tmp_path: Path) -> Path:
    path = tmp_path / "avatar.png"
    Image.new("RGB", (300, 200), (20, 120, 200)).save(path, "PNG")
    return path


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.locator(".flash")).to_contain_text("You are logged out.")


@JS_ON_AND_OFF
def test_register_verify_login_edit_profile_logout(page: Page, live_server, tmp_path, js: bool) -> None:
    """A newcomer registers, confirms the address from the mailed link, logs in again and sets up a profile."""
    name = "newcomer_js" if js else "newcomer_nojs"
    address = f"{name}@example.com"
    password = "a sturdy passphrase"

    page.goto("/auth/register")
    if js:
        # The inline check answers while typing: "admin" is a demo account.
        page.locator("#username").fill("admin")
        expect(page.locator("#username-status")).to_have_text("That username is taken.")
    page.locator("#username").fill(name)
    if js:
        expect(page.locator("#username-status")).to_have_text("Available.")
    page.locator("#email").fill(address)
    page.locator("#password").fill(password)
    page.locator("#confirm").fill("not the same one")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#confirm-error")).to_have_text("The passwords do not match.")
    expect(page.locator("#username")).to_have_value(name)  # nothing typed is lost
    page.locator("#password").fill(password)
    page.locator("#confirm").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".flash")).to_contain_text(f"Welcome, {name}!")
    expect(page.locator(".notice")).to_contain_text("Please confirm your email address")

    verify = link_in(wait_for_mail(live_server, address, "Confirm your email"), "/auth/verify/")
    page.goto(path_of(verify))
    expect(page.locator(".flash")).to_contain_text(f"{address} is confirmed")
    expect(page.locator(".notice")).to_have_count(0)

    log_out(page)
    page.get_by_role("link", name="Log in").click()
    page.locator("#email").fill(address)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".flash")).to_contain_text(f"Welcome back, {name}.")

    page.goto("/auth/profile")
    page.locator("#bio").fill("I write about trains.")
    page.locator("#website").fill("https://trains.example")
    page.locator("#avatar").set_input_files(str(avatar_png(tmp_path)))
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator(".flash")).to_contain_text("Your profile is saved.")
    # The worker makes the square variants; the page shows them once it has.
    for _ in range(50):
        src = page.locator("img.avatar").get_attribute("src") or ""
        if src.endswith("-256.webp"):
            break
        time.sleep(0.2)
        page.reload()
    assert src.endswith("-256.webp"), src
    assert page.request.get(src).status == 200

    page.goto(f"/user/{name}")
    expect(page.locator(".profile .lede")).to_have_text("I write about trains.")
    expect(page.locator(".social-links a")).to_have_attribute("href", "https://trains.example")
    log_out(page)
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


@JS_ON_AND_OFF
def test_password_reset(page: Page, live_server, browser_errors, js: bool) -> None:
    """Forgot the password: the mailed link sets a new one, which then logs in; the old one does not."""
    address = "linus@example.com" if js else "margaret@example.com"
    page.goto("/auth/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.locator("#email").fill(address)
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("h1.page-title")).to_have_text("Check your email")

    reset = link_in(wait_for_mail(live_server, address, "Reset your password"), "/auth/reset/")
    page.goto(path_of(reset))
    page.locator("#password").fill("password1234")
    page.locator("#confirm").fill("password1234")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.locator("#password-error")).to_contain_text("too common")
    page.locator("#password").fill("my new long secret")
    page.locator("#confirm").fill("my new long secret")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.locator(".flash")).to_contain_text("Your password is changed.")

    page.locator("#email").fill(address)
    page.locator("#password").fill("my new long secret")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".flash")).to_contain_text("Welcome back")
    wait_for_mail(live_server, address, "Your password was changed")
    # The link died with the old password.
    page.goto(path_of(reset))
    expect(page.locator("h1.page-title")).to_have_text("Link not valid")
    browser_errors.allow("status of 400")  # the dead link answers 400, as it should
