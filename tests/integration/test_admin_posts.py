"""/admin/posts: the review queue and every post by status; publish, send back, archive, delete."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from blog.extensions import db
from blog.models import Activity
from blog.models import MailMessage
from blog.models import Post
from blog.models import utcnow
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user


@pytest.fixture
def site(app):
    admin = make_user(role="admin", username="root")
    moderator = make_user(role="moderator", username="mod")
    author = make_user(role="author", username="ana")
    reader = make_user(role="reader", username="rita", email="rita@example.com")
    pending = make_post(reader, title="Reader's first post", status="pending", slug="readers-first-post")
    draft = make_post(author, title="Ana's draft", status="draft", slug="anas-draft")
    published = make_post(author, title="Ana's live post", status="published", slug="anas-live-post")
    admins = make_post(admin, title="Admin notes", status="published", slug="admin-notes")
    return {"admin": admin, "moderator": moderator, "author": author, "reader": reader, "pending": pending,
            "draft": draft, "published": published, "admins": admins}


def status_of(post_id: int) -> str | None:
    db.session.expire_all()
    return db.session.scalar(select(Post.status).where(Post.id == post_id))


def act(client, post, action, headers=None, **data):
    return client.post(f"/admin/posts/{post.id}/{action}", data={"expected": post.status, **data},
                       headers=headers or {})


def mails_to(address: str) -> list[MailMessage]:
    return list(db.session.scalars(select(MailMessage).where(MailMessage.recipient == address)))


# --- who may ------------------------------------------------------------------------------------

ROUTES = [("get", "/admin/posts"), ("post", "/admin/posts/bulk"), ("post", "/admin/posts/{id}/publish"),
          ("post", "/admin/posts/{id}/send_back"), ("post", "/admin/posts/{id}/archive"),
          ("post", "/admin/posts/{id}/delete")]


@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("role", ["reader", "author"])
def test_readers_and_authors_are_refused(client, site, method, path, role):
    login_as(client, site[role])
    response = getattr(client, method)(path.format(id=site["pending"].id))
    assert response.status_code == 403
    assert status_of(site["pending"].id) == "pending"


@pytest.mark.parametrize("method, path", ROUTES)
def test_guests_are_sent_to_log_in(client, site, method, path):
    response = getattr(client, method)(path.format(id=site["pending"].id))
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["moderator", "admin"])
def test_moderators_and_admins_see_the_queue_first(client, site, role):
    login_as(client, site[role])
    response = client.get("/admin/posts")
    assert response.status_code == 200
    assert "Reader&#39;s first post" in response.text
    assert "Ana&#39;s draft" not in response.text  # the default tab is the queue
    tabs = [response.text.index(f'id="tab-{status}"') for status in ("pending", "draft", "scheduled", "published", "archived")]
    assert tabs == sorted(tabs)


# --- the story of the issue -----------------------------------------------------------------------

def test_a_moderator_publishes_a_readers_post_in_place_and_the_writer_is_mailed(client, site, app):
    login_as(client, site["moderator"])
    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200
    assert 'href="/admin/posts?status=pending"' in dashboard.text
    response = act(client, site["pending"], "publish", headers=HX, next="/admin/posts?status=pending")
    assert response.status_code == 200
    assert "Published “Reader&#39;s first post”." in response.text
    assert 'role="status"' in response.text and "<html" not in response.text
    assert 'name="ids"' not in response.text  # the row left the queue: nothing left to tick
    assert status_of(site["pending"].id) == "published"
    client.post("/auth/logout")
    with client.session_transaction() as session:
        session.clear()
    assert "Reader&#39;s first post" in client.get("/").text
    [mail] = mails_to("rita@example.com")
    assert mail.kind == "post_published" and "mod" in mail.text_body and "/blog/readers-first-post" in mail.text_body
    entry = db.session.scalar(select(Activity).where(Activity.action == "post.published"))
    assert entry.actor_name == "mod" and entry.post_id == site["pending"].id


def test_publishing_without_javascript_redirects_back_with_a_message(client, site):
    login_as(client, site["moderator"])
    response = act(client, site["pending"], "publish", next="/admin/posts?status=pending")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/posts?status=pending"
    assert "Published “Reader&#39;s first post”." in client.get("/admin/posts?status=pending").text
    assert status_of(site["pending"].id) == "published"


def test_a_pending_post_with_a_future_time_is_scheduled_not_published(client, site):
    post = site["pending"]
    post.published_at = utcnow() + timedelta(days=2)
    db.session.commit()
    login_as(client, site["moderator"])
    response = act(client, post, "publish", headers=HX)
    assert "goes live on" in response.text
    assert status_of(post.id) == "scheduled"
    assert db.session.scalar(select(Activity.action)) == "post.scheduled"


def test_sending_back_needs_a_reason_which_is_mailed_and_recorded(client, site):
    login_as(client, site["moderator"])
    response = act(client, site["pending"], "send_back", headers=HX, reason="   ")
    assert response.status_code == 422 and "Say what the writer should change" in response.text
    assert status_of(site["pending"].id) == "pending"
    response = act(client, site["pending"], "send_back", headers=HX, reason="Please add a source for the numbers.")
    assert response.status_code == 200 and "Sent “Reader&#39;s first post” back" in response.text
    assert status_of(site["pending"].id) == "draft"
    [mail] = mails_to("rita@example.com")
    assert mail.kind == "post_sent_back" and "Please add a source for the numbers." in mail.text_body
    assert "/blog/readers-first-post/edit" in mail.text_body
    entry = db.session.scalar(select(Activity).where(Activity.action == "post.sent_back"))
    assert entry.detail == "Please add a source for the numbers."


def test_archiving_and_deleting(client, site):
    login_as(client, site["moderator"])
    assert act(client, site["published"], "archive", headers=HX).status_code == 200
    assert status_of(site["published"].id) == "archived"
    make_comment(site["draft"], body="A note")
    response = act(client, site["draft"], "delete", headers=HX)
    assert response.status_code == 200 and "Deleted “Ana&#39;s draft”." in response.text
    assert status_of(site["draft"].id) is None
    assert db.session.scalar(select(Activity.subject).where(Activity.action == "post.deleted")) == "Ana's draft"


def test_a_moderator_may_not_change_an_admins_post_but_an_admin_may(client, site):
    login_as(client, site["moderator"])
    response = act(client, site["admins"], "archive", headers=HX)
    assert "only admins change an admin" in response.text
    assert status_of(site["admins"].id) == "published"
    login_as(client, site["admin"])
    act(client, site["admins"], "archive", headers=HX)
    assert status_of(site["admins"].id) == "archived"


def test_acting_on_a_post_another_moderator_changed_answers_its_current_state(client, site):
    login_as(client, site["moderator"])
    stale = {"expected": "pending"}
    act(client, site["pending"], "publish", headers=HX)  # someone else published it a moment ago
    response = client.post(f"/admin/posts/{site['pending'].id}/send_back", data={**stale, "reason": "Too late"},
                           headers=HX)
    assert response.status_code == 200
    assert "Not changed" in response.text and "already published" in response.text
    assert status_of(site["pending"].id) == "published"


def test_unknown_posts_and_actions_are_not_found(client, site):
    login_as(client, site["moderator"])
    assert client.post("/admin/posts/999999/publish").status_code == 404
    assert client.post(f"/admin/posts/{site['pending'].id}/explode").status_code == 404


def test_bulk_acts_only_on_rows_whose_status_allows_it_and_says_what_it_skipped(client, site):
    other = make_post(site["reader"], title="Second submission", status="pending", slug="second")
    login_as(client, site["moderator"])
    ids = [site["pending"].id, other.id, site["published"].id, site["admins"].id, 987654]
    response = client.post("/admin/posts/bulk", data={"ids": ids, "action": "publish", "expected": "pending",
                                                      "next": "/admin/posts?status=pending"}, headers=HX)
    assert response.status_code == 200
    assert "Published 2 posts." in response.text
    assert "Left alone:" in response.text and "1 gone" in response.text and "an admin&#39;s post" in response.text
    assert [status_of(i) for i in ids[:4]] == ["published", "published", "published", "published"]
    assert len(mails_to("rita@example.com")) == 2


def test_bulk_with_a_thousand_ids_takes_a_few_statements(client, site, count_queries):
    login_as(client, site["moderator"])
    client.get("/admin/posts")  # log in, warm up
    ids = list(range(100_000, 101_000))
    with count_queries() as queries:
        response = client.post("/admin/posts/bulk", data={"ids": ids, "action": "archive", "next": "/admin/posts"})
    assert response.status_code == 303
    # The session's user, then one SELECT for the posts (none found): nothing is written.
    assert queries.count <= 3, queries.statements


def test_bulk_archive_of_many_posts_is_one_update(client, site, count_queries):
    posts = [make_post(site["author"], status="published") for _ in range(30)]
    login_as(client, site["moderator"])
    client.get("/admin/posts")
    with count_queries() as queries:
        client.post("/admin/posts/bulk", data={"ids": [p.id for p in posts], "action": "archive",
                                               "expected": "published", "next": "/admin/posts"})
    updates = [s for s in queries.statements if s.lstrip().upper().startswith("UPDATE POSTS")]
    inserts = [s for s in queries.statements if "INSERT INTO activity" in s]
    assert len(updates) == 1 and len(inserts) == 1
    assert all(status_of(p.id) == "archived" for p in posts)


def test_csrf_is_required_for_every_post(app, client, site):
    app.config["WTF_CSRF_ENABLED"] = True
    login_as(client, site["moderator"])
    for path in ("/admin/posts/bulk", f"/admin/posts/{site['pending'].id}/publish"):
        assert client.post(path, data={"action": "publish", "ids": [site["pending"].id]}, headers=HX).status_code == 400
    assert status_of(site["pending"].id) == "pending"


def test_search_filter_and_fragment(client, site):
    login_as(client, site["moderator"])
    page = client.get("/admin/posts?status=published&q=LIVE")
    assert "Ana&#39;s live post" in page.text and "Admin notes" not in page.text
    by_author = client.get("/admin/posts?status=published&author=root")
    assert "Admin notes" in by_author.text and "Ana&#39;s live post" not in by_author.text
    fragment = client.get("/admin/posts?status=published", headers=HX)
    assert "<html" not in fragment.text and 'id="listing"' in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    assert client.get("/admin/posts?status=nonsense&page=abc&category=x").status_code == 200


def _count(client, count_queries, url) -> int:
    db.session.expunge_all()
    with count_queries() as queries:
        assert client.get(url).status_code == 200
    return queries.count


def test_the_query_count_does_not_grow_with_the_number_of_posts(client, site, count_queries):
    login_as(client, site["moderator"])
    published_id = site["published"].id
    urls = ["/admin/posts", "/admin/posts?status=published", "/admin/posts?status=published&q=post&author=ana"]
    client.get(urls[0])  # warm the memoised header links (static pages), cached across requests
    small = [_count(client, count_queries, url) for url in urls]
    for n in range(60):
        post = make_post(site["author"], status="published" if n % 2 else "pending")
        make_comment(post)
    client.post(f"/admin/posts/{published_id}/archive")
    client.get(urls[0])  # a bulk change moves every generation, the menu's too: warm it again
    large = [_count(client, count_queries, url) for url in urls]
    assert small == large, (small, large)


def test_the_reason_is_shown_on_the_writers_post_and_in_its_editor(client, site):
    login_as(client, site["moderator"])
    act(client, site["pending"], "send_back", reason="Cite <b>sources</b>, please.")
    login_as(client, site["reader"])
    for url in ("/blog/readers-first-post", "/blog/readers-first-post/edit"):
        page = client.get(url).text
        assert "Sent back by mod" in page and "Cite &lt;b&gt;sources&lt;/b&gt;, please." in page, url
    login_as(client, site["author"])
    assert client.get("/blog/readers-first-post").status_code == 404  # still someone else's draft


def test_publishing_a_scheduled_post_puts_it_live_now(client, site):
    post = make_post(site["author"], title="Later", status="scheduled", slug="later",
                     published_at=utcnow() + timedelta(days=3))
    login_as(client, site["moderator"])
    response = act(client, post, "publish", headers=HX)
    assert "Published “Later”." in response.text
    assert status_of(post.id) == "published"
    assert db.session.get(Post, post.id).published_at <= utcnow()
