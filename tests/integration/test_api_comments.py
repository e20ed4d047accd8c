"""Comments over the API: the approved thread, and new comments through the web form's moderation rules."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Comment
from blog.models import MailMessage
from blog.models import utcnow
from blog.services import tokens
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user

API = "/api/v1"
COMMENT_FIELDS = {"id", "parent_id", "author", "body", "html", "status", "removed", "created_at"}


def bearer(user) -> dict[str, str]:
    raw, _ = tokens.issue(user)
    return {"Authorization": f"Bearer {raw}"}


def comment_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Comment))


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) - {"fields"} == {"error", "message", "status"} and body["status"] == status
    return body


# --- reading the thread -------------------------------------------------------------------

def test_the_thread_is_the_approved_comments_with_replies_naming_their_parent(client):
    post = make_post()
    bob = make_user(username="bob")
    first = make_comment(post, author=bob, body="First!")
    make_comment(post, body="Waiting", status="pending")
    make_comment(post, body="Spam", status="spam")
    reply = make_comment(post, body="A reply", parent=first)
    deeper = make_comment(post, body="Deeper", parent=reply)
    deepest = make_comment(post, body="Deepest", parent=deeper)
    second = make_comment(post, body="Second thread")
    response = client.get(f"{API}/posts/{post.slug}/comments")
    assert response.status_code == 200 and response.headers["ETag"]
    body = response.get_json()
    assert set(body) == {"items", "comment_count"} and body["comment_count"] == 5
    items = body["items"]
    assert all(set(item) == COMMENT_FIELDS for item in items)
    assert [(i["id"], i["parent_id"]) for i in items] == [
        (first.id, None), (reply.id, first.id), (deeper.id, reply.id), (deepest.id, deeper.id), (second.id, None)]
    assert items[0]["author"] == {"username": "bob", "url": "http://localhost/user/bob"}
    assert items[0]["html"] == "<p>First!</p>" and items[0]["status"] == "approved"


def test_a_removed_comment_keeps_its_place_without_its_text(client):
    post = make_post()
    gone = make_comment(post, body="Regrettable", deleted_at=utcnow())
    make_comment(post, body="Reply", parent=gone)
    items = client.get(f"{API}/posts/{post.slug}/comments").get_json()["items"]
    assert items[0] == {**items[0], "removed": True, "body": "", "html": "", "author": None}
    assert items[1]["parent_id"] == gone.id


def test_a_reply_to_a_hidden_comment_starts_its_own_thread(client):
    post = make_post()
    hidden = make_comment(post, status="rejected")
    reply = make_comment(post, parent=hidden)
    items = client.get(f"{API}/posts/{post.slug}/comments").get_json()["items"]
    assert [(i["id"], i["parent_id"]) for i in items] == [(reply.id, None)]


def test_comments_of_a_draft_are_404_to_others(client):
    author = make_user()
    post = make_post(author, status="draft")
    assert_error(client.get(f"{API}/posts/{post.slug}/comments"), 404)
    assert_error(client.get(f"{API}/posts/no-such-post/comments"), 404)
    assert client.get(f"{API}/posts/{post.slug}/comments", headers=bearer(author)).status_code == 200


def test_the_thread_answers_304_until_a_comment_arrives(client):
    post = make_post()
    etag = client.get(f"{API}/posts/{post.slug}/comments").headers["ETag"]
    assert client.get(f"{API}/posts/{post.slug}/comments", headers={"If-None-Match": etag}).status_code == 304
    make_comment(post)
    assert client.get(f"{API}/posts/{post.slug}/comments", headers={"If-None-Match": etag}).status_code == 200


# --- commenting ---------------------------------------------------------------------------

def test_a_new_reader_s_comment_waits_for_a_moderator(client):
    post = make_post()
    response = client.post(f"{API}/posts/{post.slug}/comments", headers=bearer(make_user(role="reader")),
                           json={"body": "Thanks for this."})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == COMMENT_FIELDS and body["status"] == "pending" and body["parent_id"] is None
    assert db.session.get(Comment, body["id"]).status == "pending"
    assert client.get(f"{API}/posts/{post.slug}/comments").get_json()["items"] == []


def test_the_post_s_author_is_published_at_once_and_no_form_timing_applies(client, app):
    app.config["COMMENT_MIN_SECONDS"] = 60  # the web form's bot trap: no form here, so no trap
    author = make_user()
    post = make_post(author)
    body = client.post(f"{API}/posts/{post.slug}/comments", headers=bearer(author), json={"body": "Author here."}
                       ).get_json()
    assert body["status"] == "approved" and body["html"] == "<p>Author here.</p>"
    assert client.get(f"{API}/posts/{post.slug}").get_json()["comment_count"] == 1


def test_a_trusted_commenter_skips_the_queue_and_the_author_is_mailed(client):
    author = make_user(username="ada")
    post = make_post(author)
    regular = make_user(role="reader")
    for _ in range(3):
        make_comment(make_post(), author=regular)
    body = client.post(f"{API}/posts/{post.slug}/comments", headers=bearer(regular), json={"body": "Again."}
                       ).get_json()
    assert body["status"] == "approved"
    assert db.session.scalar(select(MailMessage.recipient).where(MailMessage.kind == "comment_on_post")) == author.email


def test_a_reply_names_its_parent(client):
    author = make_user()
    post = make_post(author)
    parent = make_comment(post)
    body = client.post(f"{API}/posts/{post.slug}/comments", headers=bearer(author),
                       json={"body": "Replying.", "parent_id": parent.id}).get_json()
    assert body["parent_id"] == parent.id
    assert db.session.get(Comment, body["id"]).parent_id == parent.id


def test_many_links_are_spam_but_only_said_to_be_pending(client):
    author = make_user()
    post = make_post(author)
    links = " ".join(f"http://spam{n}.example.com" for n in range(6))
    body = client.post(f"{API}/posts/{post.slug}/comments", headers=bearer(author), json={"body": links}).get_json()
    assert body["status"] == "pending"
    assert db.session.get(Comment, body["id"]).status == "spam"


@pytest.mark.parametrize("payload, field", [
    ({}, "body"),
    ({"body": "   "}, "body"),
    ({"body": "x" * 5001}, "body"),
    ({"body": 5}, "body"),
    ({"body": "Hi", "parent_id": "1"}, "parent_id"),
    ({"body": "Hi", "parent_id": True}, "parent_id"),
    ({"body": "Hi", "parent_id": 0}, "parent_id"),
    ({"body": "Hi", "parent_id": 2**63}, "parent_id"),
    ({"body": "Hi", "parent_id": 999}, "parent_id"),
    ({"body": "Hi", "website": "http://bot.example.com"}, "website"),
])
def test_invalid_comments_are_422_per_field(client, payload, field):
    post = make_post()
    body = assert_error(client.post(f"{API}/posts/{post.slug}/comments", headers=bearer(make_user()), json=payload),
                        422)
    assert field in body["fields"]
    assert comment_count() == 0


def test_replying_to_a_comment_on_another_post_is_422(client):
    post, other = make_post(), make_post()
    elsewhere = make_comment(other)
    body = assert_error(client.post(f"{API}/posts/{post.slug}/comments", headers=bearer(make_user()),
                                    json={"body": "Hi", "parent_id": elsewhere.id}), 422)
    assert "parent_id" in body["fields"]


def test_commenting_needs_a_confirmed_email(client):
    post = make_post()
    response = client.post(f"{API}/posts/{post.slug}/comments", headers=bearer(make_user(email_confirmed=False)),
                           json={"body": "Hi"})
    assert "Confirm your email" in assert_error(response, 403)["message"]


def test_closed_or_unpublished_posts_take_no_comments(client):
    author = make_user()
    closed = make_post(author, comments_enabled=False)
    archived = make_post(author, status="archived")
    draft = make_post(author, status="draft")
    for post in (closed, archived, draft):
        assert_error(client.post(f"{API}/posts/{post.slug}/comments", headers=bearer(author), json={"body": "Hi"}),
                     403)
    assert_error(client.post(f"{API}/posts/{draft.slug}/comments", headers=bearer(make_user()),
                             json={"body": "Hi"}), 404)


def test_commenting_needs_a_token_and_json(client):
    post = make_post()
    response = client.post(f"{API}/posts/{post.slug}/comments", json={"body": "Hi"})
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    headers = bearer(make_user())
    assert_error(client.post(f"{API}/posts/{post.slug}/comments", headers=headers, data="body=Hi"), 415)
    assert_error(client.post(f"{API}/posts/{post.slug}/comments", headers=headers, data="{",
                             content_type="application/json"), 400)
    assert_error(client.post(f"{API}/posts/no-such-post/comments", headers=headers, json={"body": "Hi"}), 404)


def test_comments_are_limited_to_ten_an_hour_per_user(client):
    author = make_user()
    post = make_post(author)
    raw, _ = tokens.issue(author)
    second, _ = tokens.issue(author)  # a second token does not buy a second allowance
    for n in range(10):
        headers = {"Authorization": f"Bearer {raw if n % 2 else second}"}
        assert client.post(f"{API}/posts/{post.slug}/comments", headers=headers,
                           json={"body": f"Comment {n}"}).status_code == 201
    limited = client.post(f"{API}/posts/{post.slug}/comments", headers={"Authorization": f"Bearer {raw}"},
                          json={"body": "One too many"})
    assert_error(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0
    assert comment_count() == 10


def test_comment_times_are_iso_utc(client):
    post = make_post()
    make_comment(post, created_at=utcnow() - timedelta(days=1))
    created = client.get(f"{API}/posts/{post.slug}/comments").get_json()["items"][0]["created_at"]
    assert created.endswith("Z") and "T" in created
