"""A guest browses: paginates, filters by tag, searches as they type (in place with JavaScript, the
focus following to the updated heading), and Back/Forward restore whole pages; without JavaScript the
same links and the same search box are plain links and a plain form."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

PAGE_2 = re.compile(r"[?&]page=2(&|$)")


def post_titles(page: Page) -> list[str]:
    """The titles the post list shows right now (each card's heading)."""
    cards = page.get_by_role("region", name="Posts").get_by_role("article")
    return [title.strip() for title in cards.get_by_role("heading").all_inner_texts()]


def count_loads(page: Page) -> list[str]:
    """Grows by one for every full page load (htmx swaps add nothing)."""
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))
    return loads


def test_paginate_filter_search_and_go_back_with_javascript(page: Page, audit) -> None:
    page.goto("/")
    audit(page, "home")
    first_page = post_titles(page)
    assert len(first_page) == 10
    loads = count_loads(page)
    page.evaluate("window.__e2eMarker = 'kept'")  # plain JS state dies with a full page load

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Older").click()
    expect(page).to_have_url(PAGE_2)
    expect(page.get_by_role("heading", name="Latest posts")).to_be_focused()
    second_page = post_titles(page)
    assert second_page and not set(second_page) & set(first_page), "page 2 repeats page 1"
    audit(page, "home page 2, swapped in place")

    chips = page.get_by_role("navigation", name="Filter by tag")
    chip = chips.get_by_role("link", name=re.compile("^#")).first
    tag = chip.inner_text().lstrip("#")
    chip.click()
    expect(page).to_have_url(re.compile(rf"\?tag={re.escape(tag)}$"))
    heading = page.get_by_role("heading", name=f"Posts tagged #{tag}")
    expect(heading).to_be_focused()
    expect(chips.get_by_role("link", name=f"#{tag}")).to_have_attribute("aria-current", "page")
    tagged = post_titles(page)
    assert tagged and tagged != first_page
    audit(page, "home filtered by tag, in place")

    box = page.get_by_role("searchbox", name="Search posts")
    box.press_sequentially("paginat", delay=30)  # half a word: the stems still match
    expect(page).to_have_url(re.compile(r"/search\?q=paginat$"))
    expect(page.get_by_role("heading", name=re.compile("^Results for"))).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="found").first).to_be_visible()
    expect(box).to_be_focused()  # typing keeps the cursor in the box
    audit(page, "search results, in place")
    assert page.evaluate("window.__e2eMarker") == "kept" and loads == [], f"page loads: {loads}"

    page.go_back()
    expect(page).to_have_url(re.compile(rf"\?tag={re.escape(tag)}$"))
    expect(page.get_by_role("heading", name=f"Posts tagged #{tag}")).to_be_visible()
    assert post_titles(page) == tagged
    page.go_back()
    expect(page).to_have_url(PAGE_2)
    expect(page.get_by_role("region", name="Posts").get_by_role("heading")).to_have_text(second_page)
    page.go_back()
    expect(page).not_to_have_url(PAGE_2)
    expect(page.get_by_role("region", name="Posts").get_by_role("heading")).to_have_text(first_page)
    page.go_forward()
    expect(page).to_have_url(PAGE_2)
    expect(page.get_by_role("region", name="Posts").get_by_role("heading")).to_have_text(second_page)
    audit(page, "home page 2, restored by Forward")
    assert page.evaluate("window.__e2eMarker") == "kept", "back/forward did a full page load"

    # A filter on the results page searches again in place and keeps the focus on the select.
    page.goto("/search?q=pagination")
    tag_filter = page.get_by_label("Tag", exact=True)
    option = tag_filter.get_by_role("option").nth(1).get_attribute("value")
    tag_filter.focus()
    tag_filter.select_option(option)
    expect(page).to_have_url(re.compile(rf"/search\?q=pagination&tag={re.escape(option)}"))
    expect(page.get_by_label("Tag", exact=True)).to_be_focused()
    audit(page, "search results filtered, in place")

    # Markup typed into the box is shown as text, never run.
    page.get_by_role("searchbox", name="Search posts").fill("<script>alert(1)</script>")
    expect(page.get_by_role("heading", name=re.compile("Results for"))).to_contain_text("<script>alert(1)</script>")
    audit(page, "search, nothing found")


@pytest.mark.browser_context_args(java_script_enabled=False)
def test_paginate_filter_search_and_go_back_without_javascript(page: Page, audit) -> None:
    page.goto("/")
    first_page = post_titles(page)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Older").click()
    expect(page).to_have_url(PAGE_2)
    assert post_titles(page) and post_titles(page) != first_page
    audit(page, "home page 2")
    chip = page.get_by_role("navigation", name="Filter by tag").get_by_role("link", name=re.compile("^#")).first
    tag = chip.inner_text().lstrip("#")
    chip.click()
    expect(page.get_by_role("heading", name=f"Posts tagged #{tag}")).to_be_visible()
    page.get_by_role("main").get_by_role("article").first.get_by_role("heading").get_by_role("link").click()
    expect(page.get_by_role("article").first).to_contain_text(f"#{tag}")
    audit(page, "a post")
    page.go_back()
    expect(page.get_by_role("heading", name=f"Posts tagged #{tag}")).to_be_visible()

    box = page.get_by_role("searchbox", name="Search posts")
    box.fill("pagination")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=pagination$"))
    expect(page.get_by_role("searchbox", name="Search posts")).to_have_value("pagination")
    author = page.get_by_label("Author").get_by_role("option").nth(1).get_attribute("value")
    page.get_by_label("Author").select_option(author)
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(rf"/search\?q=pagination&.*author={re.escape(author)}"))
    expect(page.get_by_label("Author")).to_have_value(author)
    audit(page, "search results filtered")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/search\?q=pagination$"))
