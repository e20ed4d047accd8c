"""A reader searches: as they type in the header box (results in place, URL pushed), with filters,
and with JavaScript off (the same box is a plain form)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

BOX = "#site-search-q"
HITS = "#search-results .search-hits article"


def count_loads(page: Page) -> list[str]:
    """A list that grows by one for every full page load (htmx swaps add nothing)."""
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))
    return loads


def test_typing_in_the_header_box_shows_results_in_place_and_updates_the_url(page: Page) -> None:
    """From a post page, typing shows ranked, highlighted results without a page load; filters and
    back work in place; Enter opens the same results as a page."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto("/")
    page.locator("#post-list article h2 a").first.click()
    expect(page.locator("article.post h1")).to_be_visible()
    post_url = page.url
    loads = count_loads(page)
    page.evaluate("window.__e2eMarker = 'still here'")  # plain JS state dies with a page load

    page.locator(BOX).press_sequentially("paginat", delay=30)  # half a word: the stems still match
    expect(page).to_have_url(re.compile(r"/search\?q=paginat$"))
    expect(page.locator(HITS).first).to_be_visible()
    expect(page.locator("#search-results mark").first).to_have_text(re.compile(r"^paginat", re.I))
    expect(page.locator(".search-count")).to_contain_text("found")
    expect(page).to_have_title(re.compile(r"^paginat · Search"))
    assert page.evaluate("window.__e2eMarker") == "still here" and loads == [], f"page loads: {loads}"
    expect(page.locator(BOX)).to_be_focused()

    # A filter narrows the same search in place and joins the URL.
    tag = page.locator(f"{HITS} .tags a").first.get_attribute("href").removeprefix("/tag/")
    page.focus("#search-tag")  # as a keyboard user would be
    page.select_option("#search-tag", tag)
    expect(page).to_have_url(re.compile(rf"/search\?q=paginat&tag={re.escape(tag)}$"))
    expect(page.locator("#search-tag")).to_be_focused()  # htmx moves focus to the new select (same id)
    expect(page.locator(HITS).first).to_be_visible()
    for article in page.locator(HITS).all():
        expect(article.locator(f".tags a[href='/tag/{tag}']")).to_have_count(1)

    # Markup in the query is text, never code; the results block says nothing matched.
    page.locator(BOX).fill("<script>alert(1)</script>")
    expect(page.locator("#search-results h1")).to_contain_text("<script>alert(1)</script>")
    assert page.evaluate("window.__e2eMarker") == "still here" and loads == [], f"page loads: {loads}"

    page.go_back()
    expect(page).to_have_url(re.compile(rf"/search\?q=paginat&tag={re.escape(tag)}$"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/search\?q=paginat$"))
    page.go_back()
    expect(page).to_have_url(post_url)
    expect(page.locator("article.post h1")).to_be_visible()
    assert dialogs == [], dialogs

    page.locator(BOX).fill("pagination")
    page.locator(BOX).press("Enter")  # the form's own submit: the full results page
    expect(page).to_have_url(re.compile(r"/search\?q=pagination"))
    expect(page.locator(HITS).first).to_be_visible()
    page.wait_for_load_state()
    assert loads, "Enter should open the results page"


@pytest.mark.browser_context_args(java_script_enabled=False)
def test_without_javascript_the_box_and_the_filters_are_plain_forms(page: Page) -> None:
    """The header box submits to the results page; Apply sends the words and the filters together."""
    page.goto("/")
    page.fill(BOX, "pagination")
    page.press(BOX, "Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=pagination$"))
    expect(page.locator(HITS).first).to_be_visible()
    expect(page.locator("#search-results mark").first).to_have_text(re.compile(r"^pagination$", re.I))
    expect(page.locator(BOX)).to_have_value("pagination")

    author = page.locator(f"{HITS} .post-meta a[href^='/user/']").first.inner_text()
    page.select_option("#search-author", author)
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(rf"/search\?q=pagination&.*author={re.escape(author)}"))
    expect(page.locator("#search-author")).to_have_value(author)
    expect(page.locator(HITS).first).to_be_visible()
    for link in page.locator(f"{HITS} .post-meta a[href^='/user/']").all():
        expect(link).to_have_text(author)
