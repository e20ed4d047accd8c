"""Writing end to end: an author drafts with live preview, tags, a cover, schedules; the worker
publishes on time; a reader filters by tag in place and pages through (JS on), and reads with JS off."""
from __future__ import annotations

import re
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page
from playwright.sync_api import expect

CARDS = "#post-list > article"
TITLES = f"{CARDS} h2 a"
BODY = "Intro paragraph.\n\n```python\ndef greet(name):\n    return f'hi {name}'\n```\n"


def log_in(page: Page, email: str = "ada@example.com", password: str = "demo-password") -> None:
    page.goto("/auth/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".flash")).to_contain_text("Welcome back")


def cover_image(tmp_path: Path) -> Path:
    path = tmp_path / "cover.jpg"
    Image.new("RGB", (1600, 900), (200, 120, 40)).save(path, "JPEG")
    return path


def test_author_writes_with_live_preview_and_schedules_a_post(page: Page, tmp_path: Path) -> None:
    log_in(page)
    page.get_by_role("link", name="Write").click()
    page.locator("#title").fill("Scheduled from the browser")
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url))
    page.locator("#body").press_sequentially(BODY, delay=5)
    # The server renders the preview with the publishing pipeline while we type.
    expect(page.locator("#preview .highlight")).to_be_visible()
    expect(page.locator("#preview")).to_contain_text("def greet(name):")
    assert page.locator('#preview span.k:text("def")').count() == 1
    assert loads == [], "the preview reloaded the page"

    page.locator("#summary").fill("Written, previewed and scheduled end to end.")
    page.locator("#tags").fill("python, e2e-scheduled")
    page.locator("#cover").set_input_files(str(cover_image(tmp_path)))
    page.locator("#status").select_option("scheduled")
    due = datetime.now(UTC) + timedelta(seconds=20)
    page.locator("#publish_at").fill(due.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Scheduled for")
    expect(page.locator("article.post h1")).to_have_text("Scheduled from the browser")
    expect(page.locator("article.post .badge")).to_contain_text("Scheduled")
    post_url = page.url

    # Not listed before its time; the worker publishes it when due (queued for that moment).
    page.goto("/")
    expect(page.locator(TITLES).first).not_to_have_text("Scheduled from the browser")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page.goto("/")
        if page.locator(TITLES).first.inner_text() == "Scheduled from the browser":
            break
        time.sleep(1)
    expect(page.locator(TITLES).first).to_have_text("Scheduled from the browser")
    assert datetime.now(UTC) >= due - timedelta(seconds=1)

    page.goto(post_url)
    expect(page.locator("article.post .badge")).to_have_count(0)
    expect(page.locator("article.post .highlight")).to_contain_text("def greet(name):")
    expect(page.locator("article.post .tags")).to_contain_text("#e2e-scheduled")
    # The cover shows at once (the original), then as WebP variants with a srcset.
    cover = page.locator(".post-cover img")
    expect(cover).to_have_attribute("loading", "lazy")
    for _ in range(30):
        if (cover.get_attribute("srcset") or "").count("w") >= 2:
            break
        time.sleep(0.3)
        page.reload()
    assert "-800.webp 800w" in (cover.get_attribute("srcset") or "")


def test_reader_filters_by_tag_in_place_pages_and_goes_back(page: Page) -> None:
    page.goto("/")
    page.evaluate("window.__e2eMarker = 'kept'")
    all_titles = [t.strip() for t in page.locator(TITLES).all_inner_texts()]
    chip = page.locator(".tag-filter a[id^=tag-filter-]:not(#tag-filter-all)").first
    tag = chip.inner_text().lstrip("#")
    chip.click()
    expect(page).to_have_url(re.compile(rf"\?tag={re.escape(tag)}$"))
    expect(page.locator("#listing-head h1")).to_have_text(f"Posts tagged #{tag}")
    expect(page.locator(f"#tag-filter-{tag}")).to_have_attribute("aria-current", "page")
    tagged = [t.strip() for t in page.locator(TITLES).all_inner_texts()]
    assert tagged and tagged != all_titles

    page.locator("#tag-filter-all").click()
    expect(page.locator("#listing-head h1")).to_have_text("Latest posts")
    page.locator("nav.pagination a[rel=next]").click()
    expect(page).to_have_url(re.compile(r"\?page=2$"))
    expect(page.locator(TITLES).first).not_to_have_text(all_titles[0])
    assert page.evaluate("window.__e2eMarker") == "kept", "a full page load happened"

    page.go_back()
    expect(page.locator(TITLES)).to_have_text(all_titles)
    page.go_back()
    expect(page).to_have_url(re.compile(rf"\?tag={re.escape(tag)}$"))
    expect(page.locator(TITLES)).to_have_text(tagged)


@pytest.mark.browser_context_args(java_script_enabled=False)
def test_reading_by_tag_and_pages_without_javascript(page: Page) -> None:
    page.goto("/")
    chip = page.locator(".tag-filter a[id^=tag-filter-]:not(#tag-filter-all)").first
    tag = chip.inner_text().lstrip("#")
    chip.click()
    expect(page).to_have_url(re.compile(rf"\?tag={re.escape(tag)}$"))
    expect(page.locator("#listing-head h1")).to_have_text(f"Posts tagged #{tag}")
    tagged = [t.strip() for t in page.locator(TITLES).all_inner_texts()]
    page.locator(TITLES).first.click()
    expect(page.locator("article.post .tags")).to_contain_text(f"#{tag}")
    page.go_back()
    expect(page.locator(TITLES)).to_have_text(tagged)
    page.goto("/")
    page.locator("nav.pagination a[rel=next]").click()
    expect(page).to_have_url(re.compile(r"\?page=2$"))
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"page=2"))
