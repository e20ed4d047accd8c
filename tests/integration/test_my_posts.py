"""/my/posts: a writer's own posts by status, counted, searchable, paged, in place and without JS."""
from __future__ import annotations

import re
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import select

from blog.extensions import db
from blog.models import Post
from blog.models import User
from blog.models import utcnow
from blog.services import review
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_post
from tests.factories import make_user

URL = "/my/posts"


def rows(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="post-(\d+)"', html)]


def counts(html: str) -> dict[str, int]:
    return {status: int(number) for status, number in
            re.findall(r'id="tab-(\w+)"[^>]*>[^<]*<span class="count">([\d,]+)</span>', html)}


@pytest.fixture
def desk(app):
    """Ana's posts in every status (and a page), and someone else's."""
    ana = make_user(role="author", username="ana", timezone="Europe/Berlin")
    other = make_user(role="author", username="bob")
    mine = {
        "draft": make_post(author=ana, title="Half-written thoughts", status="draft"),
        "draft2": make_post(author=ana, title="Another draft", status="draft"),
        "scheduled": make_post(author=ana, title="Coming soon", status="scheduled",
                               published_at=datetime(2030, 1, 15, 8, 0)),
        "published": make_post(author=ana, title="Out there"),
        "archived": make_post(author=ana, title="Old news", status="archived"),
        "page": make_post(author=ana, title="About me", status="draft", kind="page", slug="about-me"),
    }
    theirs = make_post(author=other, title="Bob's draft", status="draft")
    return {"ana": ana, "bob": other, "mine": mine, "theirs": theirs}


def test_needs_a_verified_login(client):
    assert client.get(URL).headers["Location"].startswith("/auth/login")
    login_as(client, make_user(role="reader", email_confirmed=False))
    assert client.get(URL).status_code == 403


def test_drafts_tab_lists_only_my_drafts_and_pages_with_counts_per_tab(client, desk):
    login_as(client, desk["ana"])
    response = client.get(URL)
    assert response.status_code == 200 and "<html" in response.text
    mine = desk["mine"]
    assert set(rows(response.text)) == {mine["draft"].id, mine["draft2"].id, mine["page"].id}
    assert desk["theirs"].id not in rows(response.text)
    assert counts(response.text) == {"draft": 3, "pending": 0, "scheduled": 1, "published": 1, "archived": 1}
    assert f'href="/blog/{mine["draft"].slug}/edit"' in response.text
    # a draft is previewable by its writer; a public post is "View"
    assert f'href="/blog/{mine["draft"].slug}"' in response.text and "Preview “Half-written thoughts”" in response.text
    assert 'href="/about-me"' in response.text


def test_scheduled_shows_its_time_in_the_writers_zone_and_published_links_to_view(client, desk):
    login_as(client, desk["ana"])
    html = client.get(URL, query_string={"status": "scheduled"}).text
    assert rows(html) == [desk["mine"]["scheduled"].id]
    assert 'goes live <time datetime="2030-01-15T08:00:00Z">15 Jan 2030, 09:00 CET</time>' in html
    html = client.get(URL, query_string={"status": "published"}).text
    assert rows(html) == [desk["mine"]["published"].id] and "View “Out there”" in html
    # nonsense falls back to drafts, never an error
    assert client.get(URL, query_string={"status": "nope", "page": "99999999999999999999"}).status_code == 200


def test_search_by_title_narrows_the_rows_and_the_counts(client, desk):
    login_as(client, desk["ana"])
    html = client.get(URL, query_string={"q": "draft"}).text
    assert rows(html) == [desk["mine"]["draft2"].id]
    assert counts(html)["draft"] == 1 and counts(html)["published"] == 0
    assert "with “draft” in the title" in html
    html = client.get(URL, query_string={"q": "100%_\\"}).text  # LIKE wildcards are literal
    assert rows(html) == [] and "None of your draft posts has" in html


def test_htmx_swaps_only_the_listing_and_the_page_varies_on_it(client, desk):
    login_as(client, desk["ana"])
    fragment = client.get(URL, query_string={"status": "published"}, headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<div id="listing"')
    assert 'hx-get="/my/posts?status=draft"' in fragment.text and 'hx-target="#listing"' in fragment.text
    assert "HX-Request" in fragment.headers["Vary"] and "HX-Request" in client.get(URL).headers["Vary"]
    # the search box is labelled and is a plain GET form without JS
    assert '<label for="my-posts-q">Title contains</label>' in fragment.text
    assert 'method="get" action="/my/posts"' in fragment.text


def test_readers_pending_posts_wait_for_review(client):
    reader = make_user(role="reader")
    post = make_post(author=reader, title="Please publish me", status="pending")
    login_as(client, reader)
    html = client.get(URL, query_string={"status": "pending"}).text
    assert rows(html) == [post.id] and "waiting for review" in html


def test_a_draft_sent_back_shows_the_moderators_reason(client, app):
    reader = make_user(role="reader")
    moderator = make_user(role="moderator", username="mod")
    post = make_post(author=reader, title="Needs work", status="pending")
    other = make_post(author=reader, title="Plain draft", status="draft")
    review.act([post.id], "send_back", by=moderator, reason="Add <b>sources</b> please.")
    login_as(client, reader)
    html = client.get(URL).text
    assert set(rows(html)) == {post.id, other.id}
    assert "Sent back by mod" in html and "Add &lt;b&gt;sources&lt;/b&gt; please." in html
    assert html.count("Sent back by") == 1


def test_pagination_works_in_place_and_without_js(client, app):
    writer = make_user(role="author")
    for n in range(25):
        make_post(author=writer, title=f"Draft {n}", status="draft", updated_at=utcnow() - timedelta(minutes=n))
    login_as(client, writer)
    first = client.get(URL).text
    assert len(rows(first)) == 20 and "page 1 of 2" in first
    assert 'href="/my/posts?page=2&amp;status=draft"' in first
    second = client.get(URL, query_string={"page": 2}, headers=HX).text
    assert len(rows(second)) == 5 and not set(rows(second)) & set(rows(first))


def test_the_header_links_my_posts_for_verified_users_only(client):
    assert "My posts" not in client.get("/").text
    login_as(client, make_user(role="reader", email_confirmed=False))
    assert 'href="/my/posts"' not in client.get("/").text
    login_as(client, make_user(role="reader"))
    assert '<a href="/my/posts">My posts</a>' in client.get("/").text


def test_saving_a_draft_leads_to_the_drafts_with_the_flash(client):
    writer = make_user(role="author")
    login_as(client, writer)
    data = {"title": "First words", "body": "Hello.", "status": "draft", "comments_enabled": "y"}
    response = client.post("/blog/create", data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/my/posts?status=draft"
    html = client.get(response.headers["Location"]).text
    assert "Draft saved." in html and "First words" in html
    post = db.session.scalar(select(Post).where(Post.title == "First words"))
    # editing it and saving as a draft again: back to the drafts too; with htmx as an HX-Location
    response = client.post(f"/blog/{post.slug}/edit", headers=HX, data=data | {"title": "Better words"})
    assert response.headers["HX-Redirect"] == "/my/posts?status=draft"
    # other statuses go where they went
    response = client.post(f"/blog/{post.slug}/edit", data=data | {"status": "published"})
    assert response.headers["Location"] == f"/blog/{post.slug}"


def test_the_query_count_does_not_grow_with_the_posts(client, app, count_queries):
    writer_id = make_user(role="author", timezone="Europe/Berlin").id
    moderator_id = make_user(role="moderator").id
    statuses = ("draft", "pending", "scheduled", "published", "archived")

    def add(number: int) -> None:
        writer = db.session.get(User, writer_id)
        for n in range(number):
            status = statuses[n % 5]
            make_post(author=writer, title=f"Post {n}", status=status,
                      published_at=datetime(2030, 1, 1) if status == "scheduled" else None)

    def measure(**kwargs) -> int:
        db.session.expunge_all()
        with count_queries() as queries:
            assert client.get(URL, **kwargs).status_code == 200
        return queries.count

    def send_back(title: str) -> None:
        post = make_post(author=db.session.get(User, writer_id), title=title, status="pending")
        review.act([post.id], "send_back", by=db.session.get(User, moderator_id), reason=f"{title}: shorter.")

    add(5)
    send_back("Sent back")
    login_as(client, db.session.get(User, writer_id))
    client.get(URL)  # warm the header's cached page links
    small, small_fragment = measure(), measure(headers=HX)
    add(195)
    for n in range(5):
        send_back(f"Back {n}")
    client.get(URL)  # a bulk change moves every generation, the menu's too: warm it again
    assert measure() == small and measure(headers=HX) == small_fragment
    # the user; tab counts; the page's count, ids and rows; the sent-back notes
    assert small_fragment == 6, small_fragment
