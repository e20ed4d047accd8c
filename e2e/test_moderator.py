"""A moderator clears a reader's comments in the queue: approve, reject and bulk-approve, in place with
JavaScript (no page load) and by plain forms without; a guest then sees exactly the approved ones."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

JS_ON_AND_OFF = pytest.mark.parametrize("js", [pytest.param(True, id="js"), pytest.param(False, id="no-js")])


def flash(page: Page, text: str):
    return page.get_by_role("status").filter(has_text=text).first


@JS_ON_AND_OFF
def test_approve_reject_and_bulk_moderate(open_page, audit, js: bool) -> None:
    tag = "js" if js else "nojs"
    texts = [f"Keep me ({tag})", f"Drop me ({tag})", f"Keep me too ({tag})"]

    reader = open_page("reader", js=js)
    reader.goto("/")
    reader.get_by_role("region", name="Recent comments").get_by_role("link").first.click()
    post_url = reader.url
    for text in texts:
        reader.get_by_label("Your comment").fill(text)
        reader.get_by_role("button", name="Post comment").click()
        expect(reader.get_by_role("article").filter(has_text=text).last).to_contain_text("Awaiting moderation")
        if not js:
            expect(flash(reader, "will appear once a moderator approves it")).to_be_visible()

    moderator = open_page("moderator", js=js)
    moderator.goto("/")
    moderator.get_by_role("link", name=re.compile(r"^Moderation")).click()
    expect(moderator.get_by_role("heading", name="Moderation", exact=True)).to_be_visible()
    audit(moderator, "moderation queue")
    rows = [moderator.get_by_role("row").filter(has_text=text) for text in texts]
    for row in rows:
        expect(row).to_be_visible()
    loads: list[str] = []
    moderator.on("load", lambda loaded: loads.append(loaded.url))

    rows[0].get_by_role("button", name=re.compile("^Approve comment")).click()
    if js:  # the row changes in place
        expect(rows[0]).to_contain_text("Approved")
        audit(moderator, "queue after approving in place")
    else:  # the queue comes back without it, with a flash
        expect(flash(moderator, "Approved")).to_be_visible()
        expect(rows[0]).to_have_count(0)
    rows[1].get_by_role("button", name=re.compile("^Reject comment")).click()
    if js:
        expect(rows[1]).to_contain_text("Rejected")
    else:
        expect(flash(moderator, "Rejected")).to_be_visible()
        expect(rows[1]).to_have_count(0)

    rows[2].get_by_role("checkbox").check()
    moderator.get_by_role("button", name="Approve selected").click()
    expect(flash(moderator, "Approved 1 comment")).to_be_visible()
    expect(rows[2]).to_have_count(0)  # the queue comes back without it (in place with JS)
    if js:
        assert loads == [], f"moderating loaded a page: {loads}"
    audit(moderator, "queue after bulk approval")

    guest = open_page(js=js)
    guest.goto(post_url)
    comments = guest.get_by_role("region", name=re.compile(r"^\d+ comments?$"))
    expect(comments.get_by_role("article").filter(has_text=texts[0])).to_have_count(1)
    expect(comments.get_by_role("article").filter(has_text=texts[2])).to_have_count(1)
    expect(comments.get_by_role("article").filter(has_text=texts[1])).to_have_count(0)
    expect(comments).not_to_contain_text("Awaiting moderation")
    audit(guest, "post as a guest after moderation")
