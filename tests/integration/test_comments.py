"""Comments on the post page: threads, who may comment, moderation in place, spam defence."""
from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Comment
from blog.services import comments
from blog.services.errors import Invalid
from blog.services.errors import NotAllowed
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user


def count(**where) -> int:
    return db.session.scalar(select(func.count()).select_from(Comment).filter_by(**where))


def say(client, post, body="A thoughtful remark.", parent_id=None, headers=None, **extra):
    data = {"body": body, "token": comments.form_token(), **extra}
    if parent_id:
        data["parent_id"] = str(parent_id)
    return client.post(f"/blog/{post.slug}/comments", data=data, headers=headers or {})


@pytest.fixture
def post(app):
    return make_post(author=make_user(role="author", username="writer"), title="Talk to me")


@pytest.fixture
def reader(client):
    user = make_user(role="reader", username="reader")
    login_as(client, user)
    return user


def test_guests_see_a_login_link_back_to_the_thread(client, post):
    html = client.get(f"/blog/{post.slug}").text
    assert f'href="/auth/login?next=/blog/{post.slug}%23comments"' in html
    assert 'id="comment-form"' not in html
    assert say(client, post).headers["Location"].startswith("/auth/login")
    assert count() == 0


def test_unverified_users_cannot_comment(client, post):
    login_as(client, make_user(role="reader", email_confirmed=False))
    assert "Confirm your email address to comment" in client.get(f"/blog/{post.slug}").text
    assert say(client, post).status_code == 403 and count() == 0


def test_a_readers_comment_waits_for_moderation_and_only_they_see_it(client, app, post, reader):
    response = say(client, post)
    assert response.status_code == 303
    comment = db.session.scalar(select(Comment))
    assert comment.status == "pending" and response.headers["Location"] == f"/blog/{post.slug}#comment-{comment.id}"
    page = client.get(f"/blog/{post.slug}").text
    assert "A thoughtful remark." in page and "Awaiting moderation" in page and "0 comments" in page
    assert "will appear once a moderator approves it" in page
    assert "A thoughtful remark." not in app.test_client().get(f"/blog/{post.slug}").text


@pytest.mark.parametrize("who", ["post author", "moderator", "trusted reader"])
def test_trusted_commenters_are_published_at_once(client, app, post, who):
    if who == "post author":
        user = post.author
    elif who == "moderator":
        user = make_user(role="moderator")
    else:
        user = make_user(role="reader")
        other = make_post()
        for _ in range(app.config["COMMENTS_TRUSTED_AFTER"]):
            make_comment(other, author=user)
    login_as(client, user)
    say(client, post, body="Straight through.")
    assert count(status="approved", body="Straight through.") == 1
    assert "1 comment" in app.test_client().get(f"/blog/{post.slug}").text


def test_no_approval_needed_when_configured(client, app, post, reader):
    app.config["COMMENTS_REQUIRE_APPROVAL"] = False
    say(client, post)
    assert count(status="approved") == 1


def test_htmx_comment_appears_in_place_with_count_and_form_reset(client, post):
    login_as(client, post.author)
    response = say(client, post, body="In *place*", headers=HX)
    assert response.status_code == 200
    html = response.text
    comment = db.session.scalar(select(Comment))
    assert html.lstrip().startswith(f'<article class="comment comment-new" id="comment-{comment.id}"')
    assert "<em>place</em>" in html and "Your comment is published." in html
    assert '<span id="comment-count"' in html and 'hx-swap-oob="true">1 comment</span>' in html
    assert re.search(r'<form id="comment-form"[^>]*hx-swap-oob="true"', html)  # a fresh, empty form


def test_replies_nest_under_their_parent(client, post):
    login_as(client, post.author)
    parent = make_comment(post, body="Parent")
    response = say(client, post, body="A reply", parent_id=parent.id, headers=HX)
    reply = db.session.scalar(select(Comment).filter_by(body="A reply"))
    assert reply.parent_id == parent.id
    assert f'id="reply-slot-{parent.id}" hx-swap-oob="true"' in response.text  # the reply form closes
    page = client.get(f"/blog/{post.slug}").text
    assert re.search(rf'id="replies-{parent.id}">\s*<article class="comment" id="comment-{reply.id}"', page)


def test_reply_forms_load_in_place_and_without_javascript(client, post, reader):
    parent = make_comment(post, body="Parent")
    fragment = client.get(f"/blog/{post.slug}/comments/{parent.id}/reply", headers=HX).text
    assert f'id="reply-form-{parent.id}"' in fragment and f'name="parent_id" value="{parent.id}"' in fragment
    plain = client.get(f"/blog/{post.slug}/comments/{parent.id}/reply")
    assert plain.headers["Location"] == f"/blog/{post.slug}?reply_to={parent.id}"  # autofocus needs no #fragment
    page = client.get(f"/blog/{post.slug}?reply_to={parent.id}").text
    assert f'id="reply-form-{parent.id}"' in page


@pytest.mark.parametrize("body, message", [("   ", "Write something first."),
                                            ("x" * 5001, "under 5,000 characters")])
def test_empty_and_overlong_comments_are_refused_keeping_the_text(client, post, reader, body, message):
    response = say(client, post, body=body, headers=HX)
    assert response.status_code == 422 and message in response.text
    assert response.headers["HX-Retarget"] == "#comment-form"
    plain = say(client, post, body=body)
    assert plain.status_code == 422 and message in plain.text and "<html" in plain.text
    assert count() == 0


def test_replies_to_missing_hidden_or_foreign_parents_are_refused(client, post, reader):
    other_post = make_post()
    foreign = make_comment(other_post)
    rejected = make_comment(post, status="rejected")
    for parent_id in (foreign.id, rejected.id, 999_999):
        response = say(client, post, parent_id=parent_id)
        assert response.status_code == 422 and "reply to a comment shown on this post" in response.text
    assert count() == 2


def test_no_comments_on_drafts_or_closed_posts(client, reader):
    draft = make_post(status="draft", author=reader)
    closed = make_post(comments_enabled=False)
    assert say(client, draft).status_code == 403
    assert say(client, closed).status_code == 403
    assert "Comments are closed on this post." in client.get(f"/blog/{closed.slug}").text
    assert count() == 0


def test_markup_in_comments_is_inert(client, post):
    login_as(client, post.author)
    say(client, post, body='<script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3)) '
                           '[ok](https://example.org) **bold**')
    page = client.get(f"/blog/{post.slug}").text
    body = re.search(r'<div class="comment-body">(.*?)</div>', page, re.S).group(1)
    assert "<script" not in body and "onerror" not in body and "javascript:" not in body
    assert '<a href="https://example.org" rel="nofollow noopener">ok</a>' in body and "<strong>bold</strong>" in body


def test_double_submits_create_one_comment(client, post, reader):
    data = {"body": "Only once", "token": comments.form_token()}
    first = client.post(f"/blog/{post.slug}/comments", data=data)
    second = client.post(f"/blog/{post.slug}/comments", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(body="Only once") == 1


def test_the_honeypot_drops_a_comment_silently_as_spam(client, post, reader):
    response = say(client, post, website="http://cheap-pills.example")
    assert response.status_code == 303  # the bot is told nothing
    assert count(status="spam") == 1
    assert "A thoughtful remark." not in client.get(f"/blog/{post.slug}").text


def test_forms_sent_back_too_fast_are_spam(client, app, post, reader):
    app.config["COMMENT_MIN_SECONDS"] = 3
    say(client, post, body="instant")
    assert count(status="spam", body="instant") == 1
    response = client.post(f"/blog/{post.slug}/comments", data={"body": "no token at all"})
    assert response.status_code == 303 and count(status="spam", body="no token at all") == 1


def test_a_slow_human_passes_the_time_check(client, app, post, reader, monkeypatch):
    app.config["COMMENT_MIN_SECONDS"] = 3
    real_time = time.time
    monkeypatch.setattr("itsdangerous.timed.time", type("T", (), {"time": staticmethod(lambda: real_time() - 10)}))
    token = comments.form_token()  # the form was drawn ten seconds ago
    monkeypatch.undo()
    client.post(f"/blog/{post.slug}/comments", data={"body": "took my time", "token": token})
    assert count(status="pending", body="took my time") == 1


@pytest.mark.parametrize("links, status", [(3, "pending"), (6, "spam")])
def test_many_links_send_a_comment_to_the_queue_or_spam(client, post, links, status):
    login_as(client, post.author)  # even the post's author
    say(client, post, body=" ".join(f"https://site{n}.example" for n in range(links)))
    assert count(status=status) == 1


def test_comments_are_limited_to_ten_an_hour_per_user(client, post, reader):
    for n in range(10):
        assert say(client, post, body=f"comment {n}").status_code == 303
    limited = say(client, post, body="one too many")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert count() == 10


# --- moderation on the post page ----------------------------------------------------------

def test_moderators_see_the_queue_inline_and_approve_in_place(client, app, post):
    waiting = make_comment(post, author=make_user(role="reader"), body="Please approve", status="pending")
    login_as(client, make_user(role="moderator"))
    page = client.get(f"/blog/{post.slug}").text
    assert "Please approve" in page and f'id="approve-{waiting.id}"' in page
    response = client.post(f"/comments/{waiting.id}/approve", headers=HX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<div class="comment-main" id="comment-{waiting.id}-main"')
    assert 'hx-swap-oob="true">1 comment</span>' in response.text
    db.session.refresh(waiting)
    assert waiting.status == "approved"
    assert "Please approve" in app.test_client().get(f"/blog/{post.slug}").text


def test_the_post_author_moderates_their_own_posts_comments_only(client, post):
    mine = make_comment(post, author=make_user(role="reader"), status="pending")
    elsewhere = make_comment(make_post(), author=make_user(role="reader"), status="pending")
    login_as(client, post.author)
    assert client.post(f"/comments/{mine.id}/reject").status_code == 303
    assert client.post(f"/comments/{elsewhere.id}/approve").status_code == 403
    db.session.refresh(mine), db.session.refresh(elsewhere)
    assert (mine.status, elsewhere.status) == ("rejected", "pending")


def test_readers_cannot_moderate_and_unknown_actions_are_404(client, post, reader):
    comment = make_comment(post, status="pending")
    assert client.post(f"/comments/{comment.id}/approve").status_code == 403
    assert client.post(f"/comments/{comment.id}/publish").status_code == 404
    assert client.post("/comments/999999/approve").status_code == 404
    db.session.refresh(comment)
    assert comment.status == "pending"


def test_moderation_needs_csrf(app, post):
    app.config["WTF_CSRF_ENABLED"] = True
    comment = make_comment(post, status="pending")
    client = app.test_client()
    login_as(client, make_user(role="moderator"))
    assert client.post(f"/comments/{comment.id}/approve").status_code == 400
    db.session.refresh(comment)
    assert comment.status == "pending"


def test_deleting_a_parent_keeps_its_replies_readable(client, app, post):
    parent = make_comment(post, body="Parent text")
    reply = make_comment(post, body="Reply text", parent=parent)
    login_as(client, make_user(role="moderator"))
    client.post(f"/comments/{parent.id}/delete")
    db.session.refresh(parent)
    assert parent.is_removed and parent.body == ""
    page = app.test_client().get(f"/blog/{post.slug}").text
    assert "Comment removed" in page and "Parent text" not in page and "Reply text" in page
    assert "1 comment" in page
    response = client.post(f"/comments/{reply.id}/delete", headers=HX)
    assert response.headers["HX-Retarget"] == f"#comment-{reply.id}" and response.headers["HX-Reswap"] == "delete"
    assert db.session.get(Comment, reply.id) is None


def test_writers_may_delete_their_own_comments_but_not_others(client, post, reader):
    own = make_comment(post, author=reader)
    other = make_comment(post)
    assert client.post(f"/comments/{own.id}/delete").status_code == 303
    assert client.post(f"/comments/{other.id}/delete").status_code == 403
    assert db.session.get(Comment, own.id) is None and db.session.get(Comment, other.id) is not None


def test_the_count_fragment_is_one_cheap_query(client, post, count_queries):
    make_comment(post)
    make_comment(post, status="pending")
    url = f"/blog/{post.slug}/comments/count"
    db.session.expunge_all()  # a request starts with an empty session
    with count_queries() as queries:
        response = client.get(url, headers=HX)
    assert response.text.strip().startswith('<span id="comment-count"') and ">1 comment</span>" in response.text
    assert 'hx-trigger="every 30s"' in response.text
    assert queries.count == 2, queries.statements  # the post, and one COUNT


def test_thread_fragment_and_its_plain_url(client, post):
    make_comment(post, body="Visible")
    assert "Visible" in client.get(f"/blog/{post.slug}/comments", headers=HX).text
    assert client.get(f"/blog/{post.slug}/comments").headers["Location"] == f"/blog/{post.slug}#comments"


def test_service_rules(app, post):
    reader = make_user(role="reader")
    with pytest.raises(NotAllowed):
        comments.add(post, by=make_user(email_confirmed=False), body="x", token=comments.form_token())
    with pytest.raises(Invalid):
        comments.add(post, by=reader, body="", token=comments.form_token())
    with pytest.raises(NotAllowed):
        comments.moderate(make_comment(post, status="pending"), "approve", by=reader)
