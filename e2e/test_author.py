"""An author writes with live preview, uploads a cover, schedules, edits and deletes a post; without
JavaScript the Preview button and plain form posts do the same job."""
from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page
from playwright.sync_api import expect

BODY = "Intro paragraph.\n\n```python\ndef greet(name):\n    return f'hi {name}'\n```\n"


def flash(page: Page, text: str):
    return page.get_by_role("status").filter(has_text=text).first


def cover_image(tmp_path: Path) -> Path:
    path = tmp_path / "cover.jpg"
    Image.new("RGB", (1600, 900), (200, 120, 40)).save(path, "JPEG")
    return path


@pytest.mark.parametrize("js", [pytest.param(True, id="js"), pytest.param(False, id="no-js")])
def test_write_preview_cover_schedule_edit_delete(open_page, audit, tmp_path: Path, js: bool) -> None:
    page = open_page("author", js=js)
    title = f"Scheduled from the browser ({'js' if js else 'nojs'})"
    page.goto("/")
    page.get_by_role("link", name="Write").click()
    expect(page.get_by_role("heading", name="New post")).to_be_visible()
    audit(page, "editor, empty")
    page.get_by_label("Title").fill(title)
    preview = page.get_by_role("region", name="Preview")
    if js:
        loads: list[str] = []
        page.on("load", lambda loaded: loads.append(loaded.url))
        page.get_by_label("Body (Markdown)").press_sequentially(BODY, delay=5)
        # The server renders the preview with the publishing pipeline while we type.
        expect(preview.get_by_role("code").first).to_contain_text("def greet(name):")
        assert loads == [], "the preview reloaded the page"
    else:
        page.get_by_label("Body (Markdown)").fill(BODY)
        page.get_by_role("button", name="Preview").click()
        expect(preview).to_contain_text("def greet(name):")
        expect(page.get_by_label("Title")).to_have_value(title)  # the preview page keeps the form
    audit(page, "editor with preview")

    page.get_by_label("Summary").fill("Written, previewed and scheduled end to end.")
    page.get_by_label("Tags").fill("python, e2e-scheduled")
    page.get_by_label("Cover image").set_input_files(str(cover_image(tmp_path)))
    page.get_by_label("Status").select_option("scheduled")
    due = datetime.now(UTC) + timedelta(days=2)
    page.get_by_label("Publish at").fill(due.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Save").click()
    expect(flash(page, "Scheduled for")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_text("Scheduled: goes live")).to_be_visible()
    expect(page.get_by_role("figure")).to_be_visible()  # the cover (a decorative image, alt="")
    audit(page, "scheduled post")

    # Not listed before its time.
    page.goto("/")
    expect(page.get_by_role("main").get_by_role("link", name=title)).to_have_count(0)
    page.go_back()

    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", name="Edit post")).to_be_visible()
    audit(page, "editor, editing")
    page.get_by_label("Title").fill(title + ", edited")
    page.get_by_label("Status").select_option("published")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title + ", edited")

    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm asks once more with JS
    page.get_by_text("Delete…").click()
    page.get_by_role("button", name="Yes, delete this post and its comments").click()
    expect(flash(page, "deleted")).to_be_visible()
    audit(page, "after deleting a post")
    page.goto("/")
    expect(page.get_by_role("main").get_by_role("link", name=title + ", edited")).to_have_count(0)
