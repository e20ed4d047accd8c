"""Rendered pages pair every label with its control: the axe-core findings of issue 10, caught in HTML.

Each page is fetched through the test client with CSRF on (so the hidden csrf_token inputs are there)
and parsed; the checks are the ones a screen reader depends on: a label's ``for`` names a real,
visible control; ids are unique; every visible control has an accessible name; the honeypot has
none and is hidden from assistive technology.
"""
from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

import pytest

from blog.services import comments
from tests.conftest import HX
from tests.conftest import read_outbox
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user

CONTROLS = {"input", "textarea", "select"}
UNLABELLED_INPUTS = {"hidden", "submit", "button", "reset", "image"}


class Markup(HTMLParser):
    """Collects ids, labels and form controls (with whether they sit inside aria-hidden)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.labels: list[str] = []  # their ``for``
        self.controls: list[dict] = []
        self._hidden_depth: list[bool] = []
        self._label_depth = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(attributes["id"])
        inside_hidden = any(self._hidden_depth) or attributes.get("aria-hidden") == "true"
        if tag == "label":
            self._label_depth += 1
            if attributes.get("for"):
                self.labels.append(attributes["for"])
        if tag in CONTROLS:
            self.controls.append({**attributes, "tag": tag, "aria_hidden": inside_hidden,
                                  "wrapped": self._label_depth > 0})
        if tag not in {"input", "br", "img", "meta", "link", "hr", "source"}:
            self._hidden_depth.append(attributes.get("aria-hidden") == "true")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1
        if tag not in {"input", "br", "img", "meta", "link", "hr", "source"} and self._hidden_depth:
            self._hidden_depth.pop()


def problems(html: str) -> list[str]:
    """Everything wrong with the page's labels and ids, as sentences (empty: all is well)."""
    page = Markup()
    page.feed(html)
    found = [f"id {name!r} is used {n} times" for name, n in Counter(page.ids).items() if n > 1]
    by_id = {c["id"]: c for c in page.controls if c.get("id")}
    for target in page.labels:
        control = by_id.get(target)
        if control is None:
            found.append(f"<label for={target!r}> points at no control")
        elif control.get("type") == "hidden" or control["aria_hidden"]:
            found.append(f"<label for={target!r}> points at a hidden control")
    for control in page.controls:
        if control.get("type") in UNLABELLED_INPUTS or control["aria_hidden"]:
            continue
        named = (control.get("id") in page.labels or control["wrapped"]
                 or control.get("aria-label") or control.get("aria-labelledby"))
        if not named:
            found.append(f"<{control['tag']} name={control.get('name')!r}> has no accessible name")
    return found


@pytest.fixture
def csrf_on(app):
    """Render the hidden csrf_token inputs as production does (the tests' config turns CSRF off)."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def thread(app):
    """A published post with an approved comment by someone else, and a verified reader."""
    author = make_user(role="author", username="writer")
    post = make_post(author=author, title="Talk to me")
    comment = make_comment(post, author=make_user(role="reader", username="grace"), body="Use `EXPLAIN` first.")
    return post, comment


def test_comment_box_label_points_at_the_textarea(client, app, thread, csrf_on):
    """The finding: <label for="body"> while the textarea was id="comment-form-body"."""
    post, _ = thread
    login_as(client, make_user(role="reader"))
    html = client.get(f"/blog/{post.slug}").text
    assert '<label for="comment-form-body">Your comment</label>' in html
    assert re.search(r'<textarea [^>]*id="comment-form-body"', html)
    assert problems(html) == []


def test_duplicate_csrf_ids_are_gone_from_pages_with_several_forms(client, app, thread, csrf_on):
    """The post page of its own author has the delete form, moderation forms and the comment form."""
    post, _ = thread
    login_as(client, post.author)
    html = client.get(f"/blog/{post.slug}").text
    assert html.count('name="csrf_token"') >= 3
    assert 'id="csrf_token"' not in html
    assert problems(html) == []


def test_honeypot_has_no_label_and_is_hidden_from_assistive_technology(client, app, thread, csrf_on):
    post, _ = thread
    login_as(client, make_user(role="reader"))
    html = client.get(f"/blog/{post.slug}").text
    assert '<div class="honeypot" aria-hidden="true"><input autocomplete="off" name="website" tabindex="-1"' in html
    assert 'for="website"' not in html and "Leave this empty" not in html


def test_reply_box_says_whom_it_answers_and_has_a_cancel(client, app, thread, csrf_on):
    post, comment = thread
    login_as(client, make_user(role="reader"))
    fragment = client.get(f"/blog/{post.slug}/comments/{comment.id}/reply", headers=HX).text
    assert f'<label for="reply-form-{comment.id}-body">Your reply to grace</label>' in fragment
    assert "autofocus" in fragment  # htmx focuses it after the swap
    assert f'href="/blog/{post.slug}#comment-{comment.id}"' in fragment and ">Cancel</a>" in fragment
    assert problems(fragment) == []
    # Without JavaScript the post page draws the same box, focused on load.
    page = client.get(f"/blog/{post.slug}?reply_to={comment.id}").text
    assert "Your reply to grace" in page and problems(page) == []
    # Cancel: htmx gets an empty slot; a plain visit goes back to the comment.
    cancel = f"/blog/{post.slug}/comments/{comment.id}/reply?cancel=1"
    assert client.get(cancel, headers=HX).text.strip() == ""
    assert client.get(cancel).headers["Location"] == f"/blog/{post.slug}#comment-{comment.id}"


def test_a_failed_comment_focuses_the_field_in_error(client, app, thread):
    post, _ = thread
    login_as(client, make_user(role="reader"))
    data = {"body": "", "token": comments.form_token()}
    for headers in ({}, HX):
        response = client.post(f"/blog/{post.slug}/comments", data=data, headers=headers)
        assert response.status_code == 422
        html = response.text.replace("\n", " ")
        assert 'aria-invalid="true"' in html and "autofocus" in html
        assert re.search(r'aria-describedby="[^"]*comment-form-body-error"', html) and 'id="comment-form-body-error"' in html
        assert problems(response.text) == []


@pytest.mark.parametrize("path,role", [
    ("/", None), ("/auth/login", None), ("/auth/register", None), ("/auth/reset", None),
    ("/auth/profile", "reader"), ("/blog/create", "author"), ("/admin/comments", "moderator"),
    ("/search?q=talk", None), ("/admin/redirects", "admin"), ("/admin/import", "admin"),
])
def test_every_label_matches_a_control_and_ids_are_unique(client, app, thread, csrf_on, path, role):
    post, _ = thread
    make_comment(post, author=make_user(role="reader"), body="Waiting", status="pending")
    if role:
        login_as(client, make_user(role=role))
    response = client.get(path)
    assert response.status_code == 200
    assert problems(response.text) == []


def test_the_loading_bar_sits_in_the_banner_landmark(client, app):
    html = client.get("/").text
    header = html[html.index('<header class="site-header">'):html.index("</header>")]
    assert 'id="loading"' in header and 'id="announcer"' in header


def test_the_confirm_banner_does_not_repeat_the_welcome_flash(client, app):
    response = client.post("/auth/register", data={"username": "newbie", "email": "newbie@example.com",
                                                   "password": "a sturdy passphrase", "confirm": "a sturdy passphrase"},
                           follow_redirects=True)
    assert "Welcome, newbie!" in response.text
    assert "Please confirm your email address" not in response.text
    assert "Please confirm your email address" in client.get("/").text  # the reminder, from the next page on


def test_sidebar_recent_comments_show_text_not_markdown(client, app, thread):
    html = client.get("/").text
    recent = html[html.index('class="recent-comments"'):]
    assert "<q>Use EXPLAIN first.</q>" in recent and "`EXPLAIN`" not in recent


def test_mail_comes_from_the_site_name(client, app):
    app.config.update(SITE_NAME="Inkwell Test", MAIL_DEFAULT_SENDER="noreply@inkwell.test")
    client.post("/auth/register", data={"username": "mailme", "email": "mailme@example.com",
                                        "password": "a sturdy passphrase", "confirm": "a sturdy passphrase"})
    [message] = read_outbox(app.config["MAIL_OUTBOX"])
    assert message["From"] == "Inkwell Test <noreply@inkwell.test>"
    # Always the site's name (issue 16: inboxes show SITE_NAME), whatever name the sender setting carries.
    app.config["MAIL_DEFAULT_SENDER"] = "Ink Desk <desk@inkwell.test>"
    client.post("/auth/logout")
    client.post("/auth/register", data={"username": "mailme2", "email": "mailme2@example.com",
                                        "password": "a sturdy passphrase", "confirm": "a sturdy passphrase"})
    [second] = [m for m in read_outbox(app.config["MAIL_OUTBOX"]) if m["To"] == "mailme2@example.com"]
    assert second["From"] == "Inkwell Test <desk@inkwell.test>"
