"""A writer's text is saved while they type, every save is kept, and an older version can be restored."""
from __future__ import annotations

import re

from playwright.sync_api import Page
from playwright.sync_api import expect


def autosave_status(page: Page):
    return page.get_by_role("status", name="Autosave")


def test_typing_autosaves_a_draft_and_an_older_revision_is_restored(open_page, audit) -> None:
    page = open_page("author")
    page.goto("/blog/create")
    expect(page.get_by_role("heading", name="New post")).to_be_visible()
    page.get_by_label("Title").fill("Autosaved story")
    page.get_by_label("Body (Markdown)").press_sequentially("The first words.", delay=10)
    # Without pressing Save: a few seconds after typing stops, the draft exists and the editor says so.
    expect(autosave_status(page)).to_have_text(re.compile(r"Saved \d\d:\d\d"), timeout=15_000)
    expect(page).to_have_url(re.compile(r"/blog/autosaved-story/edit$"))
    audit(page, "editor, autosaved")

    # A manual save of that same form saves the draft (no second post) ...
    page.get_by_label("Body (Markdown)").fill("Version one of the story.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Draft saved.").first).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("My posts")  # a draft lands among the drafts

    # ... and a second save replaces the text.
    page.get_by_role("link", name="Edit “Autosaved story”").click()
    page.get_by_label("Body (Markdown)").fill("Version two, rewritten.")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="Preview “Autosaved story”").click()
    expect(page.get_by_role("main")).to_contain_text("Version two, rewritten.")

    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_role("link", name="Revisions").click()
    expect(page.get_by_role("heading", name="Revisions", exact=True)).to_be_visible()
    rows = page.get_by_role("table").first.get_by_role("row")
    expect(rows).to_have_count(4)  # header, two saves, the autosave
    # The older save, compared in place with the post as it is now.
    rows.nth(2).get_by_role("link", name=re.compile("Compare")).click()
    diff = page.get_by_role("region", name=re.compile("Changes from the revision"))
    expect(diff.locator("del")).to_contain_text("Version one of the story.")
    expect(diff.locator("ins")).to_contain_text("Version two, rewritten.")
    audit(page, "revisions with a diff")

    rows.nth(2).get_by_role("button", name=re.compile("Restore")).click()
    expect(page.get_by_role("status").filter(has_text="Restored").first).to_be_visible()
    expect(page.get_by_label("Body (Markdown)")).to_have_value("Version one of the story.")
    page.get_by_role("link", name="Revisions").click()
    expect(page.get_by_role("table").first.get_by_role("row")).to_have_count(5)  # the restore is a save too
