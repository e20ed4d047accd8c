"""A guest reads the blog: home, a post, back, next page and back again, with JavaScript on and off."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

CARDS = "#post-list > article"
TITLES = f"{CARDS} h2 a"
NEXT = "#post-list nav.pagination a[rel=next]"
PAGE_2 = re.compile(r"[?&]page=2(&|$)")

JS_ON_AND_OFF = pytest.mark.parametrize("js", [
    pytest.param(True, id="js"),
    pytest.param(False, id="no-js", marks=pytest.mark.browser_context_args(java_script_enabled=False)),
])


def titles(page: Page) -> list[str]:
    """The post titles the list shows right now."""
    return [title.strip() for title in page.locator(TITLES).all_inner_texts()]


def count_loads(page: Page) -> list[str]:
    """A list that grows by one for every full page load (htmx swaps add nothing)."""
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))
    return loads


@JS_ON_AND_OFF
def test_read_home_post_and_paginate(page: Page, js: bool) -> None:
    """Home lists posts; a title opens its post; "next" shows page 2 (in place with JS); back restores page 1."""
    page.goto("/")
    expect(page.locator(CARDS)).to_have_count(10)
    first_page = titles(page)

    title = first_page[0]
    page.locator(TITLES).first.click()
    expect(page.locator("article.post h1")).to_have_text(title)
    expect(page.locator("section#comments")).to_be_attached()

    page.go_back()
    expect(page).not_to_have_url(PAGE_2)
    expect(page.locator(TITLES).first).to_have_text(title)

    loads = count_loads(page)
    if js:
        # Plain JS state dies with a full page load; htmx swaps keep it.
        page.evaluate("window.__e2eMarker = 'still here'")
    page.locator(NEXT).click()
    expect(page).to_have_url(PAGE_2)
    expect(page.locator(TITLES).first).not_to_have_text(title)
    second_page = titles(page)
    assert second_page, "page 2 lists no posts"
    assert not set(second_page) & set(first_page), "page 2 repeats posts from page 1"
    if js:
        assert page.evaluate("window.__e2eMarker") == "still here", "next page did a full page load"
        assert loads == [], f"next page did a full page load: {loads}"
    else:
        page.wait_for_load_state()  # the URL commits before the load event fires
        assert len(loads) == 1, f"expected one normal navigation, saw {loads}"

    page.go_back()
    expect(page).not_to_have_url(PAGE_2)
    expect(page.locator(TITLES)).to_have_text(first_page)
    if js:
        assert page.evaluate("window.__e2eMarker") == "still here", "back did a full page load"


def test_pages_send_csp_and_log_no_errors(page: Page, browser_errors) -> None:
    """Every kind of page carries the CSP; the autouse fixture fails on any console error."""
    page.goto("/")
    post_url = page.locator(TITLES).first.get_attribute("href")
    sidebar = page.locator("aside.sidebar")
    category_url = sidebar.locator(".category-tree a").first.get_attribute("href")
    tag_url = sidebar.locator(".tag-cloud a").first.get_attribute("href")
    month_url = sidebar.locator(".months a").first.get_attribute("href")
    author_url = sidebar.locator(".authors a").first.get_attribute("href")
    pages = [("/", 200), (post_url, 200), ("/?page=2", 200), (category_url, 200), (tag_url, 200),
             ("/tags", 200), (month_url, 200), (author_url, 200), ("/blog/no-such-post-e2e", 404)]
    for url, status in pages:
        response = page.goto(url)
        assert response is not None and response.status == status, f"{url}: {response and response.status}"
        csp = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp, f"{url} sent no strict CSP: {csp!r}"
        expect(page.locator("body")).to_be_visible()
    # Chromium logs every 4xx document as a console error; this one is the point of the visit.
    browser_errors.allow("no-such-post-e2e: Failed to load resource: the server responded with a status of 404")


@JS_ON_AND_OFF
def test_browse_by_category_and_tag_from_the_sidebar(page: Page, js: bool) -> None:
    """The sidebar leads to a category (with breadcrumbs) and a tag page listing matching posts."""
    page.goto("/")
    category = page.locator("aside.sidebar .category-tree > li > a").first
    name = category.inner_text()
    category.click()
    expect(page.locator("h1.page-title")).to_have_text(name)
    expect(page.locator(".breadcrumbs [aria-current=page]")).to_have_text(name)
    page.goto("/")
    tag = page.locator("aside.sidebar .tag-cloud a").first
    label = tag.inner_text()
    tag.click()
    expect(page.locator("h1.page-title")).to_have_text(f"Tagged {label}")
    expect(page.locator(CARDS).first).to_be_visible()
    # The first post listed carries the tag on its own page.
    page.locator(TITLES).first.click()
    expect(page.locator("article.post .tags")).to_contain_text(label)
