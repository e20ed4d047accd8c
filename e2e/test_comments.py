"""Comments end to end, three people in three browsers: a reader comments and replies, a moderator
clears them in the queue without a page load, the reader sees the result, the post's author gets mail."""
from __future__ import annotations

import email
import email.policy
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

PASSWORD = "demo-password"


def log_in(page: Page, email_address: str) -> None:
    page.goto("/auth/login")
    page.locator("#email").fill(email_address)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".flash")).to_contain_text("Welcome back")


def a_commented_post(page: Page) -> tuple[str, str]:
    """A published post that has comments, and its author's username."""
    page.goto("/")
    page.locator("#post-list > article h2 a").first.click()
    author = page.locator("article.post .post-meta a").first.inner_text()
    return page.url, author


def comment_count(page: Page) -> int:
    return int(re.match(r"\d+", page.locator("#comment-count").inner_text()).group(0))


def mails_to(live_server, address: str) -> list[email.message.EmailMessage]:
    outbox = Path(live_server.path) / "outbox"
    found = []
    for path in sorted(outbox.glob("*.eml")) if outbox.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            found.append(message)
    return found


def context_page(browser: Browser, base_url: str, js: bool) -> Page:
    context = browser.new_context(base_url=base_url, java_script_enabled=js)
    return context.new_page()


@pytest.mark.parametrize("js", [pytest.param(True, id="js"), pytest.param(False, id="no-js")])
def test_comment_reply_moderate_and_notify(browser: Browser, base_url: str, live_server, js: bool) -> None:
    reader = context_page(browser, base_url, js)
    moderator = context_page(browser, base_url, js)
    author = context_page(browser, base_url, True)
    errors: list[str] = []
    for page in (reader, moderator, author):
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

    log_in(reader, "grace@example.com")
    post_url, post_author = a_commented_post(reader)
    before = comment_count(reader)
    tag = "js" if js else "nojs"

    # The reader comments, then replies to an approved comment on the same post.
    reader.locator("#comment-form textarea").fill(f"First thoughts ({tag})")
    reader.get_by_role("button", name="Post comment").click()
    expect(reader.locator(".comment-main", has_text=f"First thoughts ({tag})")).to_contain_text("Awaiting moderation")
    reader.goto(post_url)
    parent = reader.locator("#comment-list > article.comment:not(:has(.badge))").first
    parent.get_by_role("link", name="Reply").click()
    reply_form = reader.locator("form[id^=reply-form-]")
    reply_form.locator("textarea").fill(f"A reply ({tag})")
    reply_form.get_by_role("button", name="Reply").click()
    expect(reader.locator(".comment-main", has_text=f"A reply ({tag})")).to_contain_text("Awaiting moderation")
    if js:
        expect(reader.locator("form[id^=reply-form-]")).to_have_count(0)  # the reply form closed

    # The moderator's queue shows both; one is approved, one rejected, in place.
    log_in(moderator, "moderator@example.com")
    moderator.goto("/admin/comments")
    first = moderator.locator("tr.queue-row", has_text=f"First thoughts ({tag})")
    reply = moderator.locator("tr.queue-row", has_text=f"A reply ({tag})")
    expect(first).to_be_visible()
    expect(reply).to_be_visible()
    pending_before = int(moderator.locator("#pending-count").inner_text())
    loads: list[str] = []
    moderator.on("load", lambda p: loads.append(p.url))
    if js:
        moderator.evaluate("window.__e2eMarker = 'kept'")
    first.get_by_role("button", name=re.compile("^Approve")).click()
    if js:  # the row changes in place
        expect(first).to_contain_text("Approved")
    else:  # the queue page comes back without it, with a flash
        expect(moderator.locator(".flash")).to_contain_text("Approved")
        expect(first).to_have_count(0)
    reply.get_by_role("button", name=re.compile("^Reject")).click()
    if js:
        expect(reply).to_contain_text("Rejected")
        assert loads == [], f"moderating loaded a page: {loads}"
        assert moderator.evaluate("window.__e2eMarker") == "kept"
        expect(moderator.locator("#pending-count")).to_have_text(str(pending_before - 2))
    else:
        expect(moderator.locator(".flash")).to_contain_text("Rejected")
        expect(reply).to_have_count(0)

    # The reader sees the count follow (polled every 30 s with JS), then the approved comment.
    if js:
        expect(reader.locator("#comment-count")).to_have_text(re.compile(rf"^{before + 1} comment"), timeout=40_000)
    reader.goto(post_url)
    assert comment_count(reader) == before + 1
    approved = reader.locator(".comment-main", has_text=f"First thoughts ({tag})")
    expect(approved.locator(".badge")).to_have_count(0)
    expect(reader.locator(".comment-main", has_text=f"A reply ({tag})")).to_have_count(0)

    # The post's author was mailed about the approved comment (through the worker's outbox).
    address = f"{post_author}@example.com"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if any(f"First thoughts ({tag})" in m.get_body(preferencelist=("plain",)).get_content()
               for m in mails_to(live_server, address)):
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"no notification to {address}")
    assert errors == [], errors
