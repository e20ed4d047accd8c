"""With JavaScript off, every control htmx enhances still has a plain-HTML path that works.

The walk opens the site's pages as a guest, a reader and an admin with JavaScript disabled, reads the
DOM the browser built (no script ran) and, for every element carrying an ``hx-get``/``hx-post``/...:
- a link needs a real ``href`` that answers (followed, like a click without JS);
- a form needs a ``method`` and an ``action`` and a submit button;
- any other element (an input, a select, a button, a fieldset) must sit in such a form, point at one
  with ``form="..."`` (or hold the button that submits one), or have a plain link to the same URL on the page (a <noscript> fallback).
Polling widgets (``hx-trigger`` "every ..." / "load") are the only exception: they refresh what a
page load shows anyway.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

from playwright.sync_api import Page

HX = ("hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete")
VOID = {"input", "br", "img", "meta", "link", "hr", "source", "wbr", "col", "area", "base", "embed", "track"}


class Controls(HTMLParser):
    """Every element with an hx-* request attribute, with the forms around it; plus forms and links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict, dict | None]] = []
        self.enhanced: list[dict] = []
        self.forms: dict[str, dict] = {}
        self.links: set[str] = set()
        self._form: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = {**a, "submits": 0}
            if a.get("id"):
                self.forms[a["id"]] = self._form
        if tag == "a" and a.get("href"):
            self.links.add(a["href"])
        is_submit = (tag == "button" and a.get("type", "submit") == "submit") or (
            tag == "input" and a.get("type") in ("submit", "image"))
        if is_submit:
            for _, _, holder in self.stack:  # a fieldset of filters whose Apply button submits a form
                if holder is not None:
                    holder["submit_form"] = a.get("form")
            owner = self.forms.get(a["form"]) if a.get("form") else self._form
            if owner is not None:
                owner["submits"] += 1
            else:
                a["_pending_form"] = a.get("form")
        holder = None
        if any(key in a for key in HX):
            holder = {**a, "tag": tag, "form": self._form, "form_attr": a.get("form"),
                      "self": self._form if tag == "form" else None}
            self.enhanced.append(holder)
        if tag not in VOID:
            self.stack.append((tag, a, holder))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        if tag not in VOID and self.stack:
            self.stack.pop()


def problems(page: Page, seen_links: dict[str, int]) -> list[str]:
    """What on the current page has no working plain path, as sentences."""
    html = page.content()
    parsed = Controls()
    parsed.feed(html)
    # Buttons may point at a form declared later (form="site-search"): count them now.
    for match in re.finditer(r'<button[^>]*\sform="([^"]+)"', html):
        if match.group(1) in parsed.forms and parsed.forms[match.group(1)]["submits"] == 0:
            parsed.forms[match.group(1)]["submits"] += 1
    found = []
    for el in parsed.enhanced:
        what = f"<{el['tag']} {' '.join(f'{k}={el[k]!r}' for k in HX if k in el)}>"
        if re.search(r"(^|,)\s*(every |load)", el.get("hx-trigger", "")):
            continue  # polling: the page load shows the same
        url = next(el[k] for k in HX if k in el)
        if el["tag"] == "a":
            href = el.get("href", "")
            if not href or href.startswith("#") or href.startswith("javascript:"):
                found.append(f"{what} has no href")
                continue
            if href not in seen_links:
                seen_links[href] = page.request.get(href, max_redirects=5).status
            if seen_links[href] >= 400:
                found.append(f"{what}: its href {href} answers {seen_links[href]}")
            continue
        form_id = el["form_attr"] or el.get("submit_form")
        form = el["self"] if el["tag"] == "form" else (parsed.forms.get(form_id) if form_id else el["form"])
        if form is None:
            if url in parsed.links:
                continue  # a plain link to the same request, e.g. in <noscript>
            found.append(f"{what} is in no form and has no plain link to {url}")
            continue
        if not form.get("action"):
            found.append(f"{what}: its form has no action")
        elif "hx-post" in el and form.get("method", "get").lower() != "post":
            found.append(f"{what}: posts with htmx but its form would GET {form.get('action')}")
        elif form["submits"] == 0:
            found.append(f"{what}: its form {form.get('action')} has no submit button")
    return found


def site_paths(page: Page, role: str | None) -> list[str]:
    page.goto("/")
    link = page.get_by_role("region", name="Recent comments").get_by_role("link").first.get_attribute("href")
    page.goto(link)  # a comment's permalink (/comments/<id>) redirects to the post page that shows it
    post = page.url.removeprefix(page.url.split("/blog/")[0]).split("#")[0].split("?")[0]
    paths = ["/", "/?page=2", post, "/tags", "/search?q=pagination", "/search?q=pagination&page=2"]
    if role is None:
        paths += ["/auth/login", "/auth/register", "/auth/reset"]
    else:
        paths += ["/auth/profile"]
    if role == "admin":
        paths += ["/admin/", "/admin/comments", "/admin/comments?status=approved", "/admin/categories",
                  "/blog/create", f"{post}/edit"]
    return paths


def test_every_enhanced_control_works_without_javascript(open_page) -> None:
    seen: dict[str, int] = {}
    failures: list[str] = []
    for role in (None, "reader", "admin"):
        page = open_page(role, js=False)
        for path in site_paths(page, role):
            page.goto(path)
            failures += [f"{path} as {role or 'guest'}: {p}" for p in problems(page, seen)]
        page.context.close()
    assert seen, "the walk followed no enhanced link"
    assert not failures, "controls without a plain-HTML path:\n" + "\n".join(failures)
