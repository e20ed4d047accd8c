"""A new reader, found only by roles and labels: register → verify from the mailed link → comment →
"awaiting moderation" in place → reply to an approved comment; and a password reset. JS on and off;
axe-core audits every page and in-place state on the way."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

JS_ON_AND_OFF = pytest.mark.parametrize("js", [pytest.param(True, id="js"), pytest.param(False, id="no-js")])


def flash(page: Page, text: str):
    """The flash message (a polite live region) saying ``text``."""
    return page.get_by_role("status").filter(has_text=text).first


def comments_region(page: Page):
    return page.get_by_role("region", name=re.compile(r"^\d+ comments?$"))


@JS_ON_AND_OFF
def test_register_verify_comment_and_reply(open_page, audit, outbox, js: bool) -> None:
    page = open_page(js=js)
    name = f"newcomer_{'js' if js else 'nojs'}"
    address = f"{name}@example.com"
    password = "a sturdy passphrase"

    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Register").click()
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    audit(page, "register")
    if js:  # the inline check answers while typing: "admin" is a demo account
        page.get_by_label("Username").fill("admin")
        expect(page.get_by_text("That username is taken.")).to_be_visible()
        audit(page, "register, name taken")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Email").fill(address)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill("not the same one")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("The passwords do not match.")).to_be_visible()
    expect(page.get_by_label("Repeat the password")).to_be_focused()  # the field in error has the cursor
    expect(page.get_by_label("Username")).to_have_value(name)  # nothing typed is lost
    audit(page, "register with an error")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(flash(page, f"Welcome, {name}!")).to_be_visible()
    expect(page.get_by_role("note")).to_have_count(0)  # the welcome says it; no second banner
    audit(page, "home after registering")

    page.goto(outbox.link(outbox.wait(address, "Confirm your email"), "/auth/verify/"))
    expect(flash(page, f"{address} is confirmed")).to_be_visible()
    audit(page, "verified")

    # A post with an approved comment to answer: one the sidebar lists as recently commented.
    page.goto("/")
    page.get_by_role("region", name="Recent comments").get_by_role("link").first.click()
    region = comments_region(page)
    expect(region).to_be_visible()
    tag = "js" if js else "nojs"
    page.get_by_label("Your comment").fill(f"First thoughts ({tag})")
    page.get_by_role("button", name="Post comment").click()
    mine = region.get_by_role("article").filter(has_text=f"First thoughts ({tag})").last
    expect(mine).to_contain_text("Awaiting moderation")
    if js:
        expect(page.get_by_label("Your comment")).to_have_value("")  # a fresh box for the next one
    audit(page, "post with my pending comment")

    approved = region.get_by_role("article").filter(has=page.get_by_role("link", name=re.compile("^Reply to "))).first
    replying_to = approved.get_by_role("link", name=re.compile("^Reply to ")).first.get_attribute("aria-label")
    approved.get_by_role("link", name=re.compile("^Reply to ")).first.click()
    box = page.get_by_label(re.compile(r"^Your reply to "))
    expect(box).to_be_focused()
    expect(page.get_by_role("form", name=replying_to)).to_be_visible()  # "Reply to grace"
    audit(page, "reply box open")
    if js:  # Cancel closes it in place and gives the focus back to the Reply link
        page.get_by_role("link", name="Cancel").click()
        expect(box).to_have_count(0)
        expect(page.get_by_role("link", name=replying_to).first).to_be_focused()
        page.get_by_role("link", name=replying_to).first.click()
        expect(box).to_be_focused()
    box.fill(f"A reply ({tag})")
    page.get_by_role("button", name="Reply", exact=True).click()
    expect(region.get_by_role("article").filter(has_text=f"A reply ({tag})").last).to_contain_text("Awaiting moderation")
    if js:
        expect(box).to_have_count(0)  # the reply box closed
    audit(page, "post with my pending reply")


@JS_ON_AND_OFF
def test_password_reset(open_page, audit, outbox, browser_errors, js: bool) -> None:
    """Forgot the password: the mailed link sets a new one, which then logs in; the old link dies."""
    page = open_page(js=js)
    address = "linus@example.com" if js else "margaret@example.com"
    page.goto("/auth/login")
    page.get_by_role("link", name="Forgot your password?").click()
    audit(page, "reset request")
    page.get_by_label("Email").fill(address)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    audit(page, "reset requested")

    reset = outbox.link(outbox.wait(address, "Reset your password"), "/auth/reset/")
    page.goto(reset)
    page.get_by_label("New password", exact=True).fill("password1234")
    page.get_by_label("Repeat the new password").fill("password1234")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_text(re.compile("too common"))).to_be_visible()
    expect(page.get_by_label("New password", exact=True)).to_be_focused()
    audit(page, "reset with an error")
    page.get_by_label("New password", exact=True).fill("my new long secret")
    page.get_by_label("Repeat the new password").fill("my new long secret")
    page.get_by_role("button", name="Save the new password").click()
    expect(flash(page, "Your password is changed.")).to_be_visible()

    page.get_by_label("Email").fill(address)
    page.get_by_label("Password", exact=True).fill("my new long secret")
    page.get_by_role("button", name="Log in").click()
    expect(flash(page, "Welcome back")).to_be_visible()
    outbox.wait(address, "Your password was changed")
    page.goto(reset)  # the link died with the old password
    expect(page.get_by_role("heading", name="Link not valid")).to_be_visible()
    audit(page, "dead reset link")
    browser_errors.allow("status of 400")  # the dead link answers 400, as it should
