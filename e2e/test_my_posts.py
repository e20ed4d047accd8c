"""A writer saves a draft, finds it under My posts → Drafts, searches their posts and switches tabs;
with JavaScript the list updates in place, without it every step is a page load."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect


@pytest.mark.parametrize("js", [pytest.param(True, id="js"), pytest.param(False, id="no-js")])
def test_save_a_draft_and_find_it_under_my_posts(open_page, audit, js: bool) -> None:
    page: Page = open_page("author", js=js)
    title = f"A draft to find again ({'js' if js else 'nojs'})"
    page.goto("/blog/create")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Body (Markdown)").fill("Not ready yet.")
    page.get_by_label("Status").select_option("draft")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(r"/my/posts\?status=draft$"))
    expect(page.get_by_role("heading", name="My posts")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Draft saved.").first).to_be_visible()
    tabs = page.get_by_role("navigation", name="Post status")
    expect(tabs.get_by_role("link", name="Drafts")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name=title, exact=True)).to_be_visible()
    audit(page, "my posts, drafts")

    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))
    search = page.get_by_label("Title contains")
    search.fill("to find again")
    if not js:
        page.get_by_role("button", name="Search my posts").click()
    expect(page.get_by_text("with “to find again” in the title")).to_be_visible()
    expect(page.get_by_role("link", name=title, exact=True)).to_be_visible()
    tabs.get_by_role("link", name="Published").click()
    expect(tabs.get_by_role("link", name="Published")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name=title, exact=True)).to_have_count(0)
    if js:
        assert loads == [], "tabs and search should update the list in place"
        expect(page).to_have_url(re.compile(r"/my/posts\?(?=.*status=published)(?=.*q=to\+find\+again)"))
    audit(page, "my posts, published, searched")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My posts").click()
    expect(page.get_by_role("link", name=title, exact=True)).to_be_visible()
    page.get_by_role("link", name=f"Edit “{title}”").click()
    expect(page.get_by_role("heading", name="Edit post")).to_be_visible()
