"""The shared page cache: guests' pages served without the view, exact invalidation on every process."""
from __future__ import annotations


import pytest
from flask import Flask

from blog.extensions import db
from blog.models import Post
from blog.models import User
from blog.services import comments
from blog.services import pagecache
from blog.services import taxonomy
from blog.services import viewcounts
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}


@pytest.fixture
def cached(app: Flask) -> Flask:
    """The test app with its page cache on."""
    app.config["PAGE_CACHE"] = True
    return app


def _hit(response) -> bool:
    return response.headers.get("X-Page-Cache") == "hit"


def test_second_guest_visit_is_served_from_the_cache_without_queries(cached, client, count_queries):
    post = make_post(title="Cached post")
    assert client.get("/").headers["X-Page-Cache"] == "miss"
    with count_queries() as queries:
        again = client.get("/")
    assert _hit(again) and queries.count == 0
    assert "Cached post" in again.text
    assert _hit(client.get("/")) and client.get(f"/blog/{post.slug}").headers["X-Page-Cache"] == "miss"


def test_fragment_and_page_are_cached_apart(cached, client):
    make_post(title="Listed")
    page, fragment = client.get("/"), client.get("/", headers=HX)
    assert "<html" in page.text and "<html" not in fragment.text
    again_page, again_fragment = client.get("/"), client.get("/", headers=HX)
    assert _hit(again_page) and "<html" in again_page.text
    assert _hit(again_fragment) and "<html" not in again_fragment.text
    for header in ("HX-Request", "HX-Boosted", "HX-History-Restore-Request"):
        assert header in again_fragment.headers["Vary"]
    boosted = client.get("/", headers={**HX, "HX-Boosted": "true"})  # a boosted link wants the whole page
    assert "<html" in boosted.text


def test_search_fragment_keeps_its_push_url_from_the_cache(cached, client):
    make_post(title="Findable words")
    url = "/search?q=findable&page="
    client.get(url, headers=HX)
    again = client.get(url, headers=HX)
    assert _hit(again) and again.headers["HX-Push-Url"] == "/search?q=findable"


def test_publishing_a_post_refreshes_the_listings_at_once(cached, client):
    author = make_user()
    client.get("/")
    make_post(author=author, title="Brand new")
    fresh = client.get("/")
    assert not _hit(fresh) and "Brand new" in fresh.text


def test_editing_a_post_refreshes_its_page_and_the_listings(cached, client):
    post = make_post(title="Before edit", tags=["flask"])
    client.get(f"/blog/{post.slug}"), client.get("/"), client.get("/tag/flask")
    post.title = "After edit"
    db.session.commit()
    for url in (f"/blog/{post.slug}", "/", "/tag/flask"):
        page = client.get(url)
        assert "After edit" in page.text and "Before edit" not in page.text, url


def test_a_draft_saved_leaves_other_pages_cached(cached, client):
    published = make_post(title="Stays")
    client.get(f"/blog/{published.slug}")
    make_post(title="Secret draft", status="draft")
    assert _hit(client.get(f"/blog/{published.slug}"))


def test_deleting_a_post_removes_its_cached_page(cached, client):
    post = make_post(title="Doomed")
    slug = post.slug
    assert client.get(f"/blog/{slug}").status_code == 200
    db.session.delete(post)
    db.session.commit()
    assert client.get(f"/blog/{slug}").status_code == 404
    assert "Doomed" not in client.get("/").text


def test_approving_a_comment_refreshes_the_post_page(cached, client):
    moderator = make_user(role="moderator")
    post = make_post(title="Discussed")
    waiting = make_comment(post, author=make_user(role="reader"), body="Waiting for a moderator", status="pending")
    assert "Waiting for a moderator" not in client.get(f"/blog/{post.slug}").text
    comments.moderate(waiting, "approve", by=moderator)
    assert "Waiting for a moderator" in client.get(f"/blog/{post.slug}").text
    comments.moderate(waiting, "reject", by=moderator)
    assert "Waiting for a moderator" not in client.get(f"/blog/{post.slug}").text


def test_a_comment_waiting_in_the_queue_changes_no_cached_page(cached, client):
    post = make_post()
    client.get(f"/blog/{post.slug}")
    make_comment(post, author=make_user(role="reader"), status="pending")
    assert _hit(client.get(f"/blog/{post.slug}"))


def test_renaming_a_category_refreshes_its_page_and_post_pages(cached, client):
    category = taxonomy.create_category("Old name")
    post = make_post(title="Filed", category=category)
    client.get(f"/category/{category.slug}"), client.get(f"/blog/{post.slug}")
    category.name = "New name"
    db.session.commit()
    assert "New name" in client.get(f"/category/{category.slug}").text
    assert not _hit(client.get(f"/blog/{post.slug}"))


def test_signed_in_visitors_are_never_served_from_the_cache(cached, client):
    author = make_user(username="signedin")
    make_post(title="Shared")
    client.get("/"), client.get("/")  # cached for guests
    login_as(client, author)
    mine = client.get("/")
    assert "X-Page-Cache" not in mine.headers and "signedin" in mine.text
    assert mine.headers["Cache-Control"] == "private, no-store"
    guest = cached.test_client()
    assert "signedin" not in guest.get("/").text  # nor is their page stored for others


def test_a_page_with_a_flash_message_is_not_cached(cached, client):
    make_post()
    with client.session_transaction() as session:
        session["_flashes"] = [("message", "Hello once")]
    first = client.get("/")
    assert "Hello once" in first.text and "X-Page-Cache" not in first.headers
    guest = cached.test_client()
    assert "Hello once" not in guest.get("/").text


def test_a_cached_post_page_still_counts_its_views(cached, client):
    post = make_post()
    for _ in range(3):
        client.get(f"/blog/{post.slug}", headers=BROWSER)
    client.get(f"/blog/{post.slug}", headers={"User-Agent": "Googlebot/2.1"})
    assert _hit(client.get(f"/blog/{post.slug}", headers=BROWSER))
    assert viewcounts.flush() == 4
    db.session.refresh(post)
    assert post.views == 4
    assert viewcounts.flush() == 0  # moved, not copied


def test_the_page_cache_down_still_serves_pages(app, client):
    app.config["PAGE_CACHE"] = True
    make_post(title="Still here")

    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("cache down")
            return fail

    backends = app.extensions["cache"]
    saved = dict(backends)
    try:
        for key in backends:
            backends[key] = Down()
        page = client.get("/")
        assert page.status_code == 200 and "Still here" in page.text
    finally:
        backends.update(saved)


# --- two processes sharing the database and the cache -----------------------------------------

def test_a_post_published_on_one_process_is_on_the_other_at_once(two_apps):
    first, second = two_apps
    reader = second.test_client()
    with first.app_context():
        author_id = make_user().id
        make_post(author=db.session.get(User, author_id), title="Old news")
    with second.app_context():
        assert "Old news" in reader.get("/").text
        assert _hit(reader.get("/"))
    with first.app_context():
        make_post(author=db.session.get(User, author_id), title="Hot off the press")
    with second.app_context():
        page = reader.get("/")
        assert "Hot off the press" in page.text and not _hit(page)


def test_sidebar_widgets_follow_a_change_made_on_another_process(two_apps):
    first, second = two_apps
    with first.app_context():
        make_post(tags=["alpha"])
    with second.app_context():
        assert [t.slug for t in taxonomy.tag_cloud()] == ["alpha"]
    with first.app_context():
        make_post(tags=["beta"])
    with second.app_context():
        assert sorted(t.slug for t in taxonomy.tag_cloud()) == ["alpha", "beta"]


def test_views_counted_on_one_process_are_flushed_by_another(two_apps):
    first, second = two_apps
    with first.app_context():
        post_id = make_post().id
        slug = db.session.get(Post, post_id).slug
    with second.app_context():
        for _ in range(2):
            second.test_client().get(f"/blog/{slug}", headers=BROWSER)
    with first.app_context():
        assert viewcounts.flush() == 2
        assert db.session.get(Post, post_id).views == 2


def test_generations_are_unique_tokens_so_concurrent_bumps_never_collide(app):
    seen = set()
    for _ in range(50):
        pagecache.bump(pagecache.LISTINGS)
        seen.add(pagecache.generations([pagecache.LISTINGS])[pagecache.LISTINGS])
    assert len(seen) == 50


def test_the_periodic_task_moves_buffered_views_into_the_row(cached, client):
    from blog import tasks

    post = make_post()
    client.get(f"/blog/{post.slug}", headers=BROWSER)
    client.get(f"/blog/{post.slug}", headers=BROWSER)
    db.session.refresh(post)
    assert post.views == 0  # the read wrote nothing
    tasks.flush_view_counts()
    db.session.refresh(post)
    assert post.views == 2


def test_counts_waiting_in_a_process_reach_the_shared_buffer_when_it_stops(app):
    buffer = viewcounts.ViewBuffer(app)
    buffer.immediate = False  # as under gunicorn: counts wait a second in memory
    buffer.add(7)
    buffer.add(7)
    try:
        assert buffer.store.take() == {}
        buffer.spool()  # what the atexit hook runs when a worker stops gracefully
        assert buffer.store.take() == {7: 2}
    finally:
        if buffer.timer is not None:
            buffer.timer.cancel()


def test_a_bulk_update_by_the_worker_refreshes_cached_pages(cached, client):
    from sqlalchemy import update

    post = make_post(title="Cover pending")
    client.get(f"/blog/{post.slug}")
    db.session.execute(update(Post).where(Post.id == post.id).values(title="Cover ready"))
    db.session.commit()
    assert "Cover ready" in client.get(f"/blog/{post.slug}").text


def test_flushing_view_counts_keeps_the_cache_warm(cached, client):
    post = make_post()
    client.get(f"/blog/{post.slug}", headers=BROWSER)
    viewcounts.flush()
    assert _hit(client.get(f"/blog/{post.slug}", headers=BROWSER))


def test_planner_statistics_make_sqlite_read_a_posts_comments_by_its_index(app):
    from sqlalchemy import text

    from blog.services import maintenance

    if db.engine.dialect.name != "sqlite":
        assert maintenance.analyze() is False  # PostgreSQL's autovacuum analyses on its own
        return
    post = make_post()
    reader = make_user(role="reader")
    others = [make_post(author=post.author) for _ in range(120)]  # a few comments each, as on a real site
    from blog.models import Comment

    db.session.add_all([Comment(post_id=target.id, author_id=reader.id, body="x", html="x", status="approved")
                        for target in others for _ in range(8)])
    db.session.commit()
    assert maintenance.analyze() is True
    plan = " ".join(str(row[-1]) for row in db.session.execute(text(
        "EXPLAIN QUERY PLAN SELECT id FROM comments WHERE post_id = :p AND status = 'approved' "
        "ORDER BY created_at, id"), {"p": post.id}))
    assert "ix_comments_post_id_status" in plan, plan
