"""axe-core on every kind of page, logged out and logged in as each role, with JavaScript on and off.

The journeys audit the states they pass through; this walk makes sure each page type is seen by
every role at least once, including the ones no journey needs (tags, archive, admin pages, 404)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from playwright.sync_api import Page

#: Every role with JavaScript; without it (the same server HTML, audited from a DOM snapshot) the
#: guest and a reader, which keeps the walk short. The journeys audit their no-JS states too.
ROLES_AND_MODES = pytest.mark.parametrize("role,js", [
    pytest.param(None, True, id="guest-js"), pytest.param("reader", True, id="reader-js"),
    pytest.param("author", True, id="author-js"), pytest.param("moderator", True, id="moderator-js"),
    pytest.param("admin", True, id="admin-js"), pytest.param(None, False, id="guest-no-js"),
    pytest.param("reader", False, id="reader-no-js"),
])


def first_link_in(page: Page, landmark: str, heading_level: int | None = None) -> str:
    """The href of the first link in a landmark (``main`` or the sidebar), optionally under a heading."""
    region = page.get_by_role("main") if landmark == "main" else page.get_by_role("complementary")
    links = region.get_by_role("heading", level=heading_level).get_by_role("link") if heading_level else region.get_by_role("link")
    return links.first.get_attribute("href")


def pages_for(page: Page, role: str | None, js: bool) -> list[tuple[str, str]]:
    """(page type, path) pairs this role can open; found on the site itself, not hard-coded slugs.

    The guest with JavaScript sees every public page type; signed-in roles and the no-JS runs see
    the pages whose markup differs for them (the header, the post page's forms, their own pages)."""
    page.goto("/")
    post = first_link_in(page, "main", 2)
    paths = [("home", "/"), ("post", post)]
    if role is None and js:
        sidebar = page.get_by_role("complementary", name="Browse the blog")
        category = sidebar.get_by_role("region", name="Categories").get_by_role("link").first.get_attribute("href")
        tag = sidebar.get_by_role("region", name="Tags").get_by_role("link").first.get_attribute("href")
        month = sidebar.get_by_role("region", name="Archive").get_by_role("link").first.get_attribute("href")
        author = sidebar.get_by_role("region", name="Authors").get_by_role("link").first.get_attribute("href")
        paths += [("home page 2", "/?page=2"), ("category", category), ("tag", tag), ("tags", "/tags"),
                  ("archive", month), ("author", author), ("search", "/search?q=pagination"),
                  ("search, nothing found", "/search?q=zzzzqqq"), ("404", "/blog/no-such-post-e2e")]
    if role is None:
        paths += [("login", "/auth/login"), ("register", "/auth/register"), ("reset request", "/auth/reset")]
    else:
        paths += [("profile", "/auth/profile"), ("my posts", "/my/posts"), ("my scheduled posts", "/my/posts?status=scheduled")]
    if role in ("author", "moderator", "admin"):
        paths += [("moderation queue", "/admin/comments")]
    if role == "author":
        page.goto("/user/ada")
        own = first_link_in(page, "main", 2)
        paths += [("editor", "/blog/create"), ("own post", own), ("edit post", own.rstrip("/") + "/edit")]
    if role == "admin":
        paths += [("admin dashboard", "/admin/"), ("admin categories", "/admin/categories")]
    return paths


@ROLES_AND_MODES
def test_every_page_type_passes_axe(open_page, axe, browser_errors, role: str | None, js: bool) -> None:
    """No axe-core violation on any page type, for each role; all findings are reported together.
    Every page also carries the strict CSP (the browser_errors fixture fails on any CSP report)."""
    page = open_page(role, js=js)
    failures: list[str] = []
    for kind, path in pages_for(page, role, js):
        response = page.goto(path)
        assert response is not None and "script-src 'self'" in response.headers.get("content-security-policy", ""), path
        page.wait_for_load_state()
        found = axe.violations(page, js)
        axe.seen[f"{kind} as {role or 'guest'} [{'js' if js else 'no-js'}]"] = sorted({v["id"] for v in found})
        for v in found:
            failures.append(f"{kind} ({path}): {v['id']} ({v['impact']}) {v['help']}\n      " + "\n      ".join(v["nodes"]))
    browser_errors.allow("status of 404")  # the 404 page is one of the visits
    assert not failures, "axe-core violations:\n" + "\n".join(failures)


def test_layout_nav_one_row_on_desktop_and_a_menu_on_phones(open_page, audit) -> None:
    """The faults seen in screenshots: the admin's nav wrapped at 1280 px; at 390 px the header took a
    third of the screen with "Register" alone on a line; the moderation table overflowed its column."""
    admin = open_page("admin")
    admin.set_viewport_size({"width": 1280, "height": 800})
    admin.goto("/")
    nav = admin.get_by_role("navigation", name="Main")
    tops = {round(box["y"]) for box in (item.bounding_box() for item in nav.get_by_role("listitem").all())}
    assert len(tops) == 1, f"the nav wraps onto {len(tops)} rows at 1280 px"
    expect(nav.get_by_role("link", name="Admin", exact=True)).to_be_visible()
    admin.goto("/admin/comments?status=approved")
    table = admin.get_by_role("table").bounding_box()
    main = admin.get_by_role("main").bounding_box()
    assert table["x"] >= 0 and table["x"] + table["width"] <= 1280, f"the queue overflows the page: {table}"
    assert admin.evaluate("document.documentElement.scrollWidth") <= 1280, "the page scrolls sideways"
    assert main is not None

    guest = open_page()
    guest.set_viewport_size({"width": 390, "height": 844})
    guest.goto("/")
    header = guest.get_by_role("banner").bounding_box()
    assert header["height"] < 844 / 4, f"the header is {header['height']} px tall at 390 px"
    register = guest.get_by_role("navigation", name="Main").get_by_role("link", name="Register")
    expect(register).to_be_hidden()
    guest.get_by_text("Menu", exact=True).click()  # a <details> disclosure: works without JavaScript
    expect(register).to_be_visible()
    audit(guest, "phone, menu open")
