"""Writing posts: the editor, live preview, slugs, statuses, scheduling, deleting, views."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Category
from blog.models import Comment
from blog.models import Post
from blog.models import PostRedirect
from blog.models import utcnow
from blog.services import posts
from blog.services import viewcounts
from blog.services.errors import Invalid
from blog.services.errors import NotAllowed
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}


def form(**fields) -> dict:
    data = {"title": "Hello world", "body": "Some **Markdown**.", "summary": "", "tags": "", "category_id": "",
            "status": "published", "publish_at": "", "comments_enabled": "y"}
    data.update(fields)
    return data


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def author(client):
    user = make_user(role="author", username="writer")
    login_as(client, user)
    return user


def test_editor_needs_a_verified_login(client):
    assert client.get("/blog/create").headers["Location"].startswith("/auth/login")
    login_as(client, make_user(role="author", email_confirmed=False))
    assert client.get("/blog/create").status_code == 403


def test_editor_page_has_live_preview_and_tag_autocomplete(client, author):
    html = client.get("/blog/create").text
    assert 'hx-post="/blog/preview"' in html and 'hx-trigger="input changed delay:500ms"' in html
    assert 'list="tag-suggestions"' in html and 'hx-get="/blog/tags/suggest"' in html
    assert 'id="preview"' in html


def test_publishing_a_post_renders_sanitised_markdown_and_shows_it(client, author):
    body = "# Heading\n\n```python\nprint('hi')\n```\n\n<script>alert(1)</script> [x](javascript:alert(1))"
    response = client.post("/blog/create", data=form(title="First <b>post</b>", body=body, tags="Python, flask, python",
                                                      summary="<img src=x onerror=alert(1)>"))
    assert response.status_code == 303
    post = db.session.scalar(select(Post))
    assert response.headers["Location"] == f"/blog/{post.slug}"
    assert post.slug == "first-b-post-b" and post.status == "published" and post.published_at
    assert sorted(t.name for t in post.tags) == ["Python", "flask"]  # "python" again is the same tag
    assert '<span class="nb">print</span>' in post.html and "<script" not in post.html and "javascript:" not in post.html
    page = client.get(f"/blog/{post.slug}").text
    assert "First &lt;b&gt;post&lt;/b&gt;" in page and "<b>post</b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert post.reading_time == 1


def test_tags_with_markup_render_inert(client, author):
    client.post("/blog/create", data=form(tags='<script>alert(1)</script>, "onerror=x'))
    post = db.session.scalar(select(Post))
    page = client.get(f"/blog/{post.slug}").text
    assert "<script>alert(1)</script>" not in page and "#&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_missing_title_and_body_keep_everything_typed(client, author):
    response = client.post("/blog/create", data=form(title="", body="", summary="kept summary", tags="kept, tags"),
                           headers=HX)
    assert response.status_code == 422
    html = response.text
    assert "Give the post a title." in html and "the body is empty" in html
    assert "kept summary" in html and 'value="kept, tags"' in html
    assert count(Post) == 0


@pytest.mark.parametrize("field, value, message", [
    ("title", "x" * 201, "under 200 characters"),
    ("summary", "x" * 501, "under 500 characters"),
    ("tags", ", ".join(f"t{n}" for n in range(11)), "at most 10 tags"),
    ("tags", "ok, " + "x" * 51, "at most 50 characters"),
    ("category_id", "999", "Not a valid choice"),
    ("status", "bogus", "Not a valid choice"),
])
def test_overlong_and_unknown_values_are_refused(client, author, field, value, message):
    response = client.post("/blog/create", data=form(**{field: value}))
    assert response.status_code == 422 and message in response.text
    assert count(Post) == 0


def test_scheduling_needs_a_future_time(client, author):
    past = (utcnow() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/blog/create", data=form(status="scheduled", publish_at=past))
    assert response.status_code == 422 and "Choose a time in the future" in response.text
    missing = client.post("/blog/create", data=form(status="scheduled"))
    assert "Choose when the post should go live." in missing.text
    future = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert client.post("/blog/create", data=form(status="scheduled", publish_at=future)).status_code == 303
    post = db.session.scalar(select(Post))
    assert post.status == "scheduled" and post.published_at.strftime("%Y-%m-%dT%H:%M") == future
    assert "Hello world" not in client.get("/").text  # not listed until due


def test_scheduled_posts_go_live_when_due_and_fire_post_published(client, author, app):
    from blog import signals

    published = []
    signals.post_published.connect(lambda sender, post: published.append(post.id), weak=False)
    post = posts.save(posts.PostInput(title="Later", body="x", status="scheduled",
                                      publish_at=utcnow() + timedelta(minutes=1)), by=author)
    assert posts.publish_due(now=utcnow()) == []
    assert [p.id for p in posts.publish_due(now=utcnow() + timedelta(minutes=2))] == [post.id]
    assert post.id in published
    assert "Later" in client.get("/").text


def test_readers_posts_wait_for_review(client):
    reader = make_user(role="reader")
    login_as(client, reader)
    editor = client.get("/blog/create").text
    assert 'value="pending"' in editor and 'value="published"' not in editor
    assert client.post("/blog/create", data=form(status="published")).status_code == 422  # not offered
    assert client.post("/blog/create", data=form(status="pending")).status_code == 303
    post = db.session.scalar(select(Post))
    assert post.status == "pending" and post.published_at is None
    assert "Hello world" not in client.get("/").text
    # Through the service (the API will use it) "published" from a reader also waits.
    other = posts.save(posts.PostInput(title="Eager", body="x", status="published"), by=reader)
    assert other.status == "pending"


def test_services_refuse_unknown_categories_and_statuses(app, author):
    with pytest.raises(Invalid) as error:
        posts.save(posts.PostInput(title="x", body="y", status="bogus", category_id=999), by=author)
    assert set(error.value.fields) == {"status", "category_id"}


def test_drafts_are_visible_to_their_author_and_moderators_only(client, author, app):
    client.post("/blog/create", data=form(status="draft"))
    slug = db.session.scalar(select(Post.slug))
    assert client.get(f"/blog/{slug}").status_code == 200
    other = app.test_client()
    assert other.get(f"/blog/{slug}").status_code == 404
    login_as(other, make_user(role="author"))
    assert other.get(f"/blog/{slug}").status_code == 404
    login_as(other, make_user(role="moderator"))
    assert other.get(f"/blog/{slug}").status_code == 200


def test_slug_is_unique_and_follows_the_title_until_published(client, author):
    first = posts.save(posts.PostInput(title="Same title", body="x", status="published"), by=author)
    second = posts.save(posts.PostInput(title="Same title", body="x", status="draft"), by=author)
    assert (first.slug, second.slug) == ("same-title", "same-title-2")
    second = posts.save(posts.PostInput(title="A better title", body="x", status="draft"), by=author, post=second)
    assert second.slug == "a-better-title"  # still a draft: the address follows the title
    first = posts.save(posts.PostInput(title="Renamed after publishing", body="x", status="published"),
                       by=author, post=first)
    assert first.slug == "same-title"  # public: the address stays


def test_changing_the_address_of_a_public_post_leaves_a_redirect(client, author):
    post = posts.save(posts.PostInput(title="Old name", body="x", status="published"), by=author)
    posts.save(posts.PostInput(title="Old name", body="x", status="published", slug="new-name"), by=author, post=post)
    response = client.get("/blog/old-name")
    assert response.status_code == 301 and response.headers["Location"] == "/blog/new-name"
    assert db.session.get(PostRedirect, "old-name").post_id == post.id
    # Moving back frees the redirect instead of looping.
    posts.save(posts.PostInput(title="Old name", body="x", status="published", slug="old-name"), by=author, post=post)
    assert client.get("/blog/old-name").status_code == 200
    assert client.get("/blog/new-name").headers["Location"] == "/blog/old-name"


def test_a_slug_clash_under_concurrent_saves_takes_the_next_number(app, author, monkeypatch):
    make_post(title="Clash", slug="clash")
    real = posts._unique_slug
    calls = []

    def stale_check(base, post_id):
        # The first check runs before the other save committed "clash": it thinks the slug is free.
        calls.append(base)
        return base if len(calls) == 1 else real(base, post_id)

    monkeypatch.setattr(posts, "_unique_slug", stale_check)
    post = posts.save(posts.PostInput(title="Clash", body="x", status="published"), by=author)
    assert post.slug == "clash-2" and count(Post) == 2


def test_editing_someone_elses_post_is_forbidden(client, author):
    other = make_post(author=make_user(role="author"), title="Not yours")
    assert client.get(f"/blog/{other.slug}/edit").status_code == 403
    assert client.post(f"/blog/{other.slug}/edit", data=form(title="Hijacked")).status_code == 403
    assert client.post(f"/blog/{other.slug}/delete").status_code == 403
    db.session.refresh(other)
    assert other.title == "Not yours"
    with pytest.raises(NotAllowed):
        posts.save(posts.PostInput(title="x", body="y", status="draft"), by=author, post=other)


def test_moderators_may_edit_any_post(client):
    post = make_post(title="Typo in titel")
    login_as(client, make_user(role="moderator"))
    response = client.post(f"/blog/{post.slug}/edit", data=form(title="Typo in title", body=post.body))
    assert response.status_code == 303
    db.session.refresh(post)
    assert post.title == "Typo in title"


def test_edit_form_is_prefilled(client, author):
    category = Category(name="Notes", slug="notes")
    db.session.add(category)
    db.session.commit()
    post = posts.save(posts.PostInput(title="Prefilled", body="The *body*", summary="Short", tags="a, b",
                                      category_id=category.id, status="draft"), by=author)
    html = client.get(f"/blog/{post.slug}/edit").text
    assert 'value="Prefilled"' in html and "The *body*</textarea>" in html and "Short</textarea>" in html
    assert 'value="a, b"' in html and re.search(rf'<option selected value="{category.id}">\s*Notes', html)
    assert "<em>body</em>" in html  # the preview starts filled


def test_live_preview_uses_the_publishing_pipeline(client, author):
    response = client.post("/blog/preview", data={"body": "**bold** <script>x</script>\n\n```python\nx = 1\n```"},
                           headers=HX)
    html = response.text.strip()
    assert html.startswith('<div id="preview"') and "<html" not in html
    assert "<strong>bold</strong>" in html and "<script>" not in html and '<span class="n">x</span>' in html


def test_preview_without_javascript_shows_it_and_saves_nothing(client, author):
    response = client.post("/blog/create", data=form(body="*draft text*", action="preview"))
    assert response.status_code == 200 and "<em>draft text</em>" in response.text
    assert count(Post) == 0


def test_tag_suggestions_complete_the_last_tag(client, author):
    make_post(tags=["python", "pytest", "rust"])
    response = client.get("/blog/tags/suggest", query_string={"tags": "rust, py"}, headers=HX)
    assert '<option value="rust, pytest">' in response.text and '<option value="rust, python">' in response.text
    assert "rust, rust" not in response.text
    assert "<option" not in client.get("/blog/tags/suggest", query_string={"tags": "%"}).text


def test_deleting_removes_the_post_and_its_comments(client, author):
    post = make_post(author=author, tags=["python", "flask"])
    assert len(post.tags) == 2  # loaded: the delete must not trip over the tag links
    parent = make_comment(post)
    make_comment(post, parent=parent)
    response = client.post(f"/blog/{post.slug}/delete", headers=HX)
    assert response.headers["HX-Redirect"] == "/"
    assert count(Post) == 0 and count(Comment) == 0
    assert client.get(f"/blog/{post.slug}").status_code == 404
    assert client.get(f"/blog/{post.slug}/delete").status_code == 405


def test_delete_button_asks_for_confirmation(client, author):
    post = make_post(author=author)
    html = client.get(f"/blog/{post.slug}").text
    assert 'hx-confirm="Delete this post and all its comments?' in html and "<details>" in html


def test_views_count_readers_but_not_the_author_or_bots(client, app, author):
    post = make_post(author=author)
    client.get(f"/blog/{post.slug}", headers=BROWSER)  # the author
    reader = app.test_client()
    reader.get(f"/blog/{post.slug}", headers=BROWSER)
    reader.get(f"/blog/{post.slug}", headers=BROWSER)
    reader.get(f"/blog/{post.slug}", headers={"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
    reader.get(f"/blog/{post.slug}", headers={"User-Agent": "Mozilla/5.0 (compatible; BINGBOT/2.0)"})  # any case
    reader.get(f"/blog/{post.slug}", headers={"User-Agent": "Mozilla/5.0 HeadlessChrome/131.0"})
    reader.get(f"/blog/{post.slug}", headers={**BROWSER, **HX})  # a fragment is not a read
    viewcounts.flush()  # buffered: the periodic task moves them into the row
    db.session.refresh(post)
    assert post.views == 2


def test_views_are_incremented_in_sql(app, author):
    post = make_post(author=author)
    stale = db.session.get(Post, post.id)
    posts.record_view(stale, user_agent=BROWSER["User-Agent"])
    posts.record_view(stale, user_agent=BROWSER["User-Agent"])  # a stale object cannot lose a count
    viewcounts.flush()
    db.session.refresh(post)
    assert post.views == 2


def png(size=(1600, 900)) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 90)).save(buffer, "PNG")
    buffer.seek(0)
    return buffer


def test_a_cover_upload_is_processed_and_shown_with_srcset(client, author, app):
    response = client.post("/blog/create", data={**form(), "cover": (png(), "cover.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    post = db.session.scalar(select(Post))
    assert post.cover_image and post.cover_processed
    page = client.get(f"/blog/{post.slug}").text
    assert 'loading="lazy"' in page and "-800.webp 800w" in page and 'property="og:image"' in page


def test_a_bad_cover_saves_nothing(client, author, app):
    response = client.post("/blog/create", data={**form(), "cover": (io.BytesIO(b"not an image"), "x.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and count(Post) == 0
    from pathlib import Path
    assert list(Path(app.config["UPLOAD_FOLDER"]).rglob("*.*")) == []


def test_a_post_saves_even_when_the_queue_is_down(app, author, monkeypatch):
    from blog import tasks

    def down(*args, **kwargs):
        raise ConnectionError("queue unreachable")

    monkeypatch.setattr(tasks.huey, "enqueue", down)
    post = posts.save(posts.PostInput(title="Queue down", body="x", status="scheduled",
                                      publish_at=utcnow() + timedelta(hours=1)), by=author, cover=_upload())
    assert post.id and post.status == "scheduled" and post.cover_image and not post.cover_processed


def _upload():
    from werkzeug.datastructures import FileStorage

    return FileStorage(stream=png(), filename="c.png", content_type="image/png")


def test_save_refuses_invalid_input_at_the_service_level(app, author):
    with pytest.raises(Invalid) as error:
        posts.save(posts.PostInput(title=" ", body=" "), by=author)
    assert {"title", "body"} <= set(error.value.fields)


@pytest.mark.parametrize("title", ["Create", "Preview", "Tags"])
def test_a_title_that_slugs_to_a_route_gets_another_address(app, client, author, title):
    """A post titled "Create" used to get /blog/create, which the editor's route answers instead."""
    post = posts.save(posts.PostInput(title=title, body="x", status="published"), by=author)
    assert post.slug == f"{title.lower()}-2"
    assert client.get(f"/blog/{post.slug}").status_code == 200


def test_an_explicit_slug_a_route_uses_is_refused(app, author):
    with pytest.raises(Invalid) as error:
        posts.save(posts.PostInput(title="Hello", body="x", slug="preview"), by=author)
    assert "slug" in error.value.fields
