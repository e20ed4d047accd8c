"""Posts over the API: listing, reading, writing, conditional GETs, and every way a request can be refused."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Category
from blog.models import Post
from blog.models import utcnow
from blog.services import tokens
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user

API = "/api/v1"
POST_FIELDS = {"id", "slug", "url", "title", "summary", "body", "html", "status", "tags", "category", "author",
               "cover_image", "cover_alt", "reading_time", "views", "comment_count", "created_at", "updated_at",
               "published_at", "kind", "nav_order"}
LIST_FIELDS = {"items", "page", "per_page", "total", "pages"}
ERROR_FIELDS = {"error", "message", "status"}


def bearer(user) -> dict[str, str]:
    raw, _ = tokens.issue(user)
    return {"Authorization": f"Bearer {raw}"}


def post_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Post))


def category(name: str, parent: Category | None = None) -> Category:
    found = Category(name=name, slug=name.lower(), parent_id=parent.id if parent else None)
    db.session.add(found)
    db.session.commit()
    return found


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) - {"fields"} == ERROR_FIELDS
    assert body["status"] == status and body["message"]
    return body


# --- listing ------------------------------------------------------------------------------

def test_list_is_the_published_posts_newest_first_in_the_design_s_envelope(client):
    author = make_user(username="alice")
    old = make_post(author, title="Old", age_hours=5, tags=["python"])
    new = make_post(author, title="New", age_hours=1)
    make_post(author, title="Draft", status="draft")
    make_comment(old)
    response = client.get(f"{API}/posts")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == LIST_FIELDS
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 10, 2, 1)
    assert [item["slug"] for item in body["items"]] == [new.slug, old.slug]
    item = body["items"][1]
    assert set(item) == POST_FIELDS
    assert item["author"] == {"username": "alice", "url": "http://localhost/user/alice"}
    assert item["url"] == f"http://localhost/blog/{old.slug}"
    assert item["body"] == "Hello **world**." and item["html"] == "<p>Hello <strong>world</strong>.</p>"
    assert item["tags"] == ["python"] and item["comment_count"] == 1 and item["status"] == "published"
    assert item["published_at"].endswith("Z") and item["category"] is None and item["cover_image"] is None


def test_list_pages_and_caps_per_page_at_100(client):
    author = make_user()
    for n in range(5):
        make_post(author, age_hours=n)
    body = client.get(f"{API}/posts?page=2&per_page=2").get_json()
    assert (body["page"], body["per_page"], body["total"], body["pages"], len(body["items"])) == (2, 2, 5, 3, 2)
    assert client.get(f"{API}/posts?per_page=1000").get_json()["per_page"] == 100


def test_a_page_past_the_last_is_404(client):
    make_post()
    assert_error(client.get(f"{API}/posts?page=3"), 404)


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "per_page=0", "per_page=x", "page=1.5",
                                   "page=99999999999999999999999", "page=1000001", "page=", "page=1_0",
                                   "page=%205", "page=%D9%A3"])
def test_bad_paging_parameters_are_422(client, query):
    body = assert_error(client.get(f"{API}/posts?{query}"), 422)
    assert set(body["fields"]) <= {"page", "per_page"} and body["fields"]


def test_list_filters_by_tag_and_by_category_with_its_subcategories(client):
    python = category("Python")
    web = category("Web", parent=python)
    tagged = make_post(tags=["flask"], age_hours=3)
    in_parent = make_post(category_id=python.id, age_hours=2)
    in_child = make_post(category_id=web.id, age_hours=1)
    make_post(age_hours=4)
    assert [p["slug"] for p in client.get(f"{API}/posts?tag=flask").get_json()["items"]] == [tagged.slug]
    slugs = [p["slug"] for p in client.get(f"{API}/posts?category=python").get_json()["items"]]
    assert slugs == [in_child.slug, in_parent.slug]
    assert client.get(f"{API}/posts?category=web").get_json()["items"][0]["category"] == "web"


def test_an_unknown_tag_or_category_is_404(client):
    assert "tag" in assert_error(client.get(f"{API}/posts?tag=nope"), 404)["message"]
    assert "category" in assert_error(client.get(f"{API}/posts?category=nope"), 404)["message"]


def test_q_searches_the_full_text_index(client):
    author = make_user()
    headers = bearer(author)
    for title, body in [("Testing Flask apps", "Fixtures and clients."), ("Baking bread", "Flour and water.")]:
        assert client.post(f"{API}/posts", json={"title": title, "body": body, "status": "published"},
                           headers=headers).status_code == 201
    body = client.get(f"{API}/posts?q=flask").get_json()
    assert set(body) == LIST_FIELDS
    assert [item["title"] for item in body["items"]] == ["Testing Flask apps"]
    assert body["total"] == 1 and body["pages"] == 1 and set(body["items"][0]) == POST_FIELDS
    assert client.get(f"{API}/posts?q=flask&tag=nothing").status_code == 404
    assert client.get(f"{API}/posts?q=zebra").get_json()["items"] == []
    assert client.get(f"{API}/posts?q=flask&page=2").status_code == 404


def test_list_counts_comments_and_loads_bodies_in_a_fixed_number_of_queries(client, count_queries):
    for n in range(3):
        make_comment(make_post(tags=["a", "b"], age_hours=n))
    with count_queries() as few:
        client.get(f"{API}/posts?per_page=3")
    for n in range(10):
        make_comment(make_post(tags=["c"], age_hours=10 + n))
    with count_queries() as many:
        body = client.get(f"{API}/posts?per_page=13").get_json()
    assert len(body["items"]) == 13 and all(item["comment_count"] == 1 for item in body["items"])
    assert many.count == few.count


# --- reading one --------------------------------------------------------------------------

def test_get_a_post(client):
    post = make_post(title="Hello", tags=["python", "flask"], summary="In short.")
    response = client.get(f"{API}/posts/{post.slug}")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == POST_FIELDS
    assert (body["id"], body["title"], body["summary"], body["tags"]) == (post.id, "Hello", "In short.",
                                                                          ["flask", "python"])
    assert body["reading_time"] == 1 and body["views"] == 0


def test_the_cover_image_is_an_absolute_url(client):
    key = "0123456789abcdef0123456789abcdef"
    waiting = make_post(cover_image=f"{key}.png", cover_processed=False)
    done = make_post(cover_image=f"{key}.jpg", cover_processed=True)
    assert client.get(f"{API}/posts/{waiting.slug}").get_json()["cover_image"] == (
        f"http://localhost/uploads/covers/{key}.png")
    assert client.get(f"{API}/posts/{done.slug}").get_json()["cover_image"] == (
        f"http://localhost/uploads/covers/{key}-1200.webp")


def test_an_unknown_slug_is_404(client):
    assert_error(client.get(f"{API}/posts/no-such-post"), 404)


@pytest.mark.parametrize("status", ["draft", "pending", "scheduled"])
def test_unpublished_posts_are_404_to_guests_and_other_users(client, status):
    author = make_user()
    extra = {"published_at": utcnow() + timedelta(days=1)} if status == "scheduled" else {}
    post = make_post(author, status=status, **extra)
    assert_error(client.get(f"{API}/posts/{post.slug}"), 404)
    assert_error(client.get(f"{API}/posts/{post.slug}", headers=bearer(make_user())), 404)
    assert client.get(f"{API}/posts/{post.slug}", headers=bearer(author)).status_code == 200
    assert client.get(f"{API}/posts/{post.slug}", headers=bearer(make_user(role="moderator"))).status_code == 200


def test_archived_posts_can_be_read(client):
    post = make_post(status="archived")
    assert client.get(f"{API}/posts/{post.slug}").get_json()["status"] == "archived"


# --- conditional GET ----------------------------------------------------------------------

def test_a_post_has_a_strong_etag_and_last_modified_and_answers_304(client):
    post = make_post()
    response = client.get(f"{API}/posts/{post.slug}")
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert response.headers["Last-Modified"]
    assert "Authorization" in response.headers["Vary"]
    again = client.get(f"{API}/posts/{post.slug}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert client.get(f"{API}/posts/{post.slug}", headers={"If-None-Match": "W/" + etag}).status_code == 304
    assert client.get(f"{API}/posts/{post.slug}", headers={"If-None-Match": '"other"'}).status_code == 200


def test_the_etag_changes_with_the_comment_count_and_the_content(client):
    post = make_post()
    first = client.get(f"{API}/posts/{post.slug}").headers["ETag"]
    make_comment(post)
    second = client.get(f"{API}/posts/{post.slug}", headers={"If-None-Match": first})
    assert second.status_code == 200 and second.headers["ETag"] != first
    post.title = "Retitled"
    db.session.commit()
    assert client.get(f"{API}/posts/{post.slug}").headers["ETag"] not in (first, second.headers["ETag"])


def test_if_modified_since_alone_never_hides_a_new_comment(client):
    post = make_post()
    modified = client.get(f"{API}/posts/{post.slug}").headers["Last-Modified"]
    make_comment(post)
    response = client.get(f"{API}/posts/{post.slug}", headers={"If-Modified-Since": modified})
    assert response.status_code == 200 and response.get_json()["comment_count"] == 1


def test_lists_have_an_etag_and_answer_304_until_they_change(client):
    make_post(age_hours=2)
    etag = client.get(f"{API}/posts").headers["ETag"]
    assert client.get(f"{API}/posts", headers={"If-None-Match": etag}).status_code == 304
    make_post(age_hours=1)
    assert client.get(f"{API}/posts", headers={"If-None-Match": etag}).status_code == 200


# --- creating -----------------------------------------------------------------------------

def test_an_author_creates_a_published_post(client):
    author = make_user(username="alice")
    python = category("Python")
    response = client.post(f"{API}/posts", headers=bearer(author), json={
        "title": "Hello API", "body": "Some *Markdown*.", "summary": "Short.", "tags": ["Flask", "APIs", "flask"],
        "category": python.slug, "status": "published"})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == POST_FIELDS
    assert response.headers["Location"] == f"/api/v1/posts/{body['slug']}"
    assert (body["slug"], body["status"], body["category"], body["tags"]) == ("hello-api", "published", "python",
                                                                              ["APIs", "Flask"])
    assert body["html"] == "<p>Some <em>Markdown</em>.</p>" and body["author"]["username"] == "alice"
    assert body["published_at"] is not None and body["comment_count"] == 0
    assert client.get(f"{API}/posts/hello-api").status_code == 200


def test_status_defaults_to_draft(client):
    body = client.post(f"{API}/posts", headers=bearer(make_user()), json={"title": "T", "body": "B"}).get_json()
    assert body["status"] == "draft" and body["published_at"] is None


def test_a_reader_s_published_post_waits_as_pending(client):
    reader = make_user(role="reader")
    response = client.post(f"{API}/posts", headers=bearer(reader),
                           json={"title": "My first", "body": "Hello.", "status": "published"})
    assert response.status_code == 201 and response.get_json()["status"] == "pending"
    assert client.get(f"{API}/posts/my-first").status_code == 404  # not public yet


def test_a_scheduled_post_takes_published_at(client):
    when = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    body = client.post(f"{API}/posts", headers=bearer(make_user()), json={
        "title": "Later", "body": "Soon.", "status": "scheduled", "published_at": when.isoformat() + "+00:00"}
    ).get_json()
    assert body["status"] == "scheduled" and body["published_at"] == when.isoformat() + "Z"


def test_published_at_with_an_offset_is_stored_in_utc(client):
    when = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    local = (when + timedelta(hours=2)).isoformat() + "+02:00"
    body = client.post(f"{API}/posts", headers=bearer(make_user()), json={
        "title": "Later", "body": "Soon.", "status": "scheduled", "published_at": local}).get_json()
    assert body["published_at"] == when.isoformat() + "Z"


@pytest.mark.parametrize("payload, field", [
    ({"body": "No title."}, "title"),
    ({"title": "   ", "body": "Blank title."}, "title"),
    ({"title": "No body"}, "body"),
    ({"title": "T" * 201, "body": "B"}, "title"),
    ({"title": "T", "body": "B", "summary": "S" * 501}, "summary"),
    ({"title": "T", "body": "B", "tags": [f"t{n}" for n in range(11)]}, "tags"),
    ({"title": "T", "body": "B", "tags": ["!!!"]}, "tags"),
    ({"title": "T", "body": "B", "category": "nope"}, "category"),
    ({"title": "T", "body": "B", "status": "bogus"}, "status"),
    ({"title": "T", "body": "B", "status": "scheduled"}, "published_at"),
    ({"title": "T", "body": "B", "status": "scheduled", "published_at": "2001-01-01T00:00:00Z"}, "published_at"),
    ({"title": "T", "body": "B", "status": "scheduled", "published_at": "next tuesday"}, "published_at"),
    ({"title": "T", "body": "B", "slug": "Not A Slug"}, "slug"),
    ({"title": 42, "body": "B"}, "title"),
    ({"title": None, "body": "B"}, "title"),
    ({"title": "T", "body": ["B"]}, "body"),
    ({"title": "T", "body": "B", "tags": "a, b"}, "tags"),
    ({"title": "T", "body": "B", "tags": [1, 2]}, "tags"),
    ({"title": "T", "body": "B", "category": 3}, "category"),
    ({"title": "T\x00", "body": "B"}, "title"),
    ({"title": "T", "body": "B", "titel": "typo"}, "titel"),
])
def test_invalid_posts_are_422_per_field_and_nothing_is_saved(client, payload, field):
    body = assert_error(client.post(f"{API}/posts", headers=bearer(make_user()), json=payload), 422)
    assert field in body["fields"] and all(isinstance(m, str) for m in body["fields"][field])
    assert post_count() == 0


def test_a_reader_may_not_schedule(client):
    when = (utcnow() + timedelta(days=1)).isoformat()
    body = assert_error(client.post(f"{API}/posts", headers=bearer(make_user(role="reader")), json={
        "title": "T", "body": "B", "status": "scheduled", "published_at": when}), 422)
    assert "status" in body["fields"]


def test_read_only_fields_are_ignored_so_a_post_can_be_sent_back(client):
    author = make_user()
    post = make_post(author, title="Round trip", tags=["a"])
    got = client.get(f"{API}/posts/{post.slug}").get_json()
    got.update(title="Round trip, edited", views=999, id=12345, comment_count=7)
    response = client.put(f"{API}/posts/{post.slug}", headers=bearer(author), json=got)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["id"], body["views"], body["tags"], body["slug"]) == (
        "Round trip, edited", post.id, 0, ["a"], post.slug)


def test_a_slug_another_post_has_is_409_and_nothing_is_saved(client):
    make_post(slug="taken")
    response = client.post(f"{API}/posts", headers=bearer(make_user()), json={"title": "T", "body": "B",
                                                                               "slug": "taken"})
    assert "taken" in assert_error(response, 409)["message"]
    assert post_count() == 1


def test_a_title_like_another_post_s_gets_a_free_slug(client):
    make_post(title="Same", slug="same")
    body = client.post(f"{API}/posts", headers=bearer(make_user()), json={"title": "Same", "body": "B"}).get_json()
    assert body["slug"] == "same-2"


def test_writing_needs_a_confirmed_email(client):
    response = client.post(f"{API}/posts", headers=bearer(make_user(email_confirmed=False)),
                           json={"title": "T", "body": "B"})
    assert "Confirm your email" in assert_error(response, 403)["message"]


def test_malformed_json_is_400(client):
    headers = bearer(make_user())
    for raw in ['{"title": ', "[1, 2", "\xff\xfe", "[" * 100_000]:
        assert_error(client.post(f"{API}/posts", data=raw, content_type="application/json", headers=headers), 400)
    assert post_count() == 0


@pytest.mark.parametrize("payload", ['["a list"]', '"a string"', "42", "null"])
def test_a_body_that_is_not_an_object_is_400(client, payload):
    assert_error(client.post(f"{API}/posts", data=payload, content_type="application/json",
                             headers=bearer(make_user())), 400)


@pytest.mark.parametrize("kind", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_body_that_is_not_json_is_415(client, kind):
    kwargs = {"content_type": kind} if kind else {}
    assert_error(client.post(f"{API}/posts", data='{"title": "T", "body": "B"}', headers=bearer(make_user()),
                             **kwargs), 415)
    assert post_count() == 0


def test_a_body_over_the_size_limit_is_413(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post(f"{API}/posts", headers=bearer(make_user()), json={"title": "T", "body": "B" * 2000})
    assert_error(response, 413)
    assert post_count() == 0


# --- replacing and updating ---------------------------------------------------------------

def test_put_replaces_the_post(client):
    author = make_user()
    post = make_post(author, title="Before", summary="Old summary.", tags=["a", "b"])
    response = client.put(f"{API}/posts/{post.slug}", headers=bearer(author),
                          json={"title": "After", "body": "New body.", "status": "published"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["body"], body["summary"], body["tags"]) == ("After", "New body.", "", [])
    assert body["slug"] == post.slug  # a published post keeps its address


def test_put_without_a_status_makes_a_draft(client):
    author = make_user()
    post = make_post(author)
    body = client.put(f"{API}/posts/{post.slug}", headers=bearer(author), json={"title": "T", "body": "B"}).get_json()
    assert body["status"] == "draft"


def test_patch_changes_only_what_it_sends(client):
    author = make_user()
    python = category("Python")
    post = make_post(author, title="Keep me", tags=["a"], category_id=python.id)
    response = client.patch(f"{API}/posts/{post.slug}", headers=bearer(author), json={"summary": "New summary."})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["summary"], body["tags"], body["category"], body["status"]) == (
        "Keep me", "New summary.", ["a"], "python", "published")


def test_patch_can_clear_the_category_and_change_the_slug(client):
    author = make_user()
    post = make_post(author, category_id=category("Python").id)
    body = client.patch(f"{API}/posts/{post.slug}", headers=bearer(author),
                        json={"category": None, "slug": "a-new-address"}).get_json()
    assert body["category"] is None and body["slug"] == "a-new-address"
    assert client.get(f"{API}/posts/a-new-address").status_code == 200


def test_patch_to_a_slug_another_post_has_is_409(client):
    author = make_user()
    make_post(slug="taken")
    post = make_post(author, title="Mine")
    assert_error(client.patch(f"{API}/posts/{post.slug}", headers=bearer(author), json={"slug": "taken"}), 409)
    db.session.refresh(post)
    assert post.slug != "taken"


def test_patch_to_its_own_old_slug_is_allowed(client):
    author = make_user()
    make_post(author, slug="first")
    assert client.patch(f"{API}/posts/first", headers=bearer(author), json={"slug": "second"}).status_code == 200
    back = client.patch(f"{API}/posts/second", headers=bearer(author), json={"slug": "first"})
    assert back.status_code == 200 and back.get_json()["slug"] == "first"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_someone_else_s_post_is_403(client, method):
    post = make_post(make_user(), title="Not yours")
    kwargs = {"json": {"title": "Mine now", "body": "B"}} if method != "delete" else {}
    response = getattr(client, method)(f"{API}/posts/{post.slug}", headers=bearer(make_user()), **kwargs)
    assert_error(response, 403)
    db.session.refresh(post)
    assert post.title == "Not yours"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_someone_else_s_draft_is_404_not_403(client, method):
    post = make_post(make_user(), status="draft")
    kwargs = {"json": {"title": "T", "body": "B"}} if method != "delete" else {}
    assert_error(getattr(client, method)(f"{API}/posts/{post.slug}", headers=bearer(make_user()), **kwargs), 404)


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_an_unknown_slug_is_404_for_writes(client, method):
    kwargs = {"json": {"title": "T", "body": "B"}} if method != "delete" else {}
    assert_error(getattr(client, method)(f"{API}/posts/nothing-here", headers=bearer(make_user()), **kwargs), 404)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writes_without_a_token_are_401(client, method):
    post = make_post()
    url = f"{API}/posts" if method == "post" else f"{API}/posts/{post.slug}"
    kwargs = {"json": {"title": "T", "body": "B"}} if method != "delete" else {}
    response = getattr(client, method)(url, **kwargs)
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_moderator_edits_and_deletes_anyone_s_post(client):
    moderator = make_user(role="moderator")
    post = make_post(make_user(), title="Theirs")
    assert client.patch(f"{API}/posts/{post.slug}", headers=bearer(moderator),
                        json={"title": "Moderated"}).get_json()["title"] == "Moderated"
    assert client.delete(f"{API}/posts/{post.slug}", headers=bearer(moderator)).status_code == 204


def test_invalid_updates_are_422_and_change_nothing(client):
    author = make_user()
    post = make_post(author, title="Unchanged")
    body = assert_error(client.patch(f"{API}/posts/{post.slug}", headers=bearer(author),
                                     json={"title": "", "tags": "x"}), 422)
    assert set(body["fields"]) == {"tags"}  # shape errors first; the service's rules then
    body = assert_error(client.patch(f"{API}/posts/{post.slug}", headers=bearer(author), json={"title": ""}), 422)
    assert set(body["fields"]) == {"title"}
    db.session.refresh(post)
    assert post.title == "Unchanged"


def test_updates_need_json_too(client):
    author = make_user()
    post = make_post(author)
    assert_error(client.patch(f"{API}/posts/{post.slug}", headers=bearer(author), data="title=x"), 415)
    assert_error(client.put(f"{API}/posts/{post.slug}", headers=bearer(author), data="{",
                            content_type="application/json"), 400)


# --- deleting -----------------------------------------------------------------------------

def test_delete_removes_the_post_with_its_tags_and_comments(client):
    author = make_user()
    post = make_post(author, tags=["python", "flask"])
    make_comment(post)
    response = client.delete(f"{API}/posts/{post.slug}", headers=bearer(author))
    assert response.status_code == 204 and response.data == b""
    assert_error(client.get(f"{API}/posts/{post.slug}"), 404)
    assert post_count() == 0


def test_a_slug_with_a_nul_character_is_404(client):
    assert_error(client.get(f"{API}/posts/a%00b"), 404)
    assert_error(client.get(f"{API}/posts?tag=a%00b"), 422)


def test_cover_alt_is_read_and_written_and_kept_when_not_sent(client):
    author = make_user(role="author")
    headers = {"Authorization": f"Bearer {tokens.issue(author)[0]}"}
    created = client.post(f"{API}/posts", json={"title": "Alt", "body": "Text.", "cover_alt": "A  quiet lake"},
                          headers=headers)
    assert created.status_code == 201 and created.get_json()["cover_alt"] == "A quiet lake"
    slug = created.get_json()["slug"]
    patched = client.patch(f"{API}/posts/{slug}", json={"title": "Alt 2"}, headers=headers)
    assert patched.get_json()["cover_alt"] == "A quiet lake"
    refused = client.patch(f"{API}/posts/{slug}", json={"cover_alt": "x" * 301}, headers=headers)
    assert refused.status_code == 422 and "cover_alt" in refused.get_json()["fields"]
    remote = client.patch(f"{API}/posts/{slug}", json={"body": "![x](https://cdn.example/x.png)"}, headers=headers)
    assert remote.status_code == 422 and "images from other sites" in remote.get_json()["fields"]["body"][0]


# --- pages (kind and nav_order) -----------------------------------------------------------

def test_pages_are_written_and_read_with_kind_and_nav_order(client):
    admin = make_user(username="root", role="admin")
    created = client.post(f"{API}/posts", headers=bearer(admin), json={
        "title": "About us", "body": "Who we are.", "status": "published", "kind": "page", "nav_order": 2})
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["kind"] == "page" and body["nav_order"] == 2 and body["url"].endswith("/about-us")
    page = db.session.scalar(select(Post).where(Post.slug == "about-us"))
    assert page.kind == "page" and page.nav_order == 2
    assert client.get("/about-us").status_code == 200
    # PATCH moves it in the menu; PUT without kind or nav_order keeps both.
    moved = client.patch(f"{API}/posts/about-us", headers=bearer(admin), json={"nav_order": 0})
    assert moved.get_json()["nav_order"] == 0
    replaced = client.put(f"{API}/posts/about-us", headers=bearer(admin),
                          json={"title": "About us", "body": "Still us.", "status": "published"})
    assert replaced.status_code == 200 and replaced.get_json()["kind"] == "page"
    assert replaced.get_json()["nav_order"] == 0
    # A read post sent back as it is round-trips.
    again = client.put(f"{API}/posts/about-us", headers=bearer(admin), json=client.get(f"{API}/posts/about-us").get_json())
    assert again.status_code == 200 and again.get_json()["kind"] == "page"
    out = client.patch(f"{API}/posts/about-us", headers=bearer(admin), json={"nav_order": None})
    assert out.get_json()["nav_order"] is None
    plain = client.get(f"{API}/posts/{make_post(admin, title='Plain').slug}").get_json()
    assert plain["kind"] == "post" and plain["nav_order"] is None and "/blog/" in plain["url"]


@pytest.mark.parametrize("fields, name", [
    ({"kind": "essay"}, "kind"), ({"kind": 3}, "kind"), ({"kind": "page", "nav_order": -1}, "nav_order"),
    ({"kind": "page", "nav_order": "1"}, "nav_order"), ({"kind": "page", "nav_order": True}, "nav_order"),
    ({"kind": "page", "nav_order": 10**6}, "nav_order"), ({"kind": "post", "nav_order": 1}, "nav_order"),
])
def test_bad_kind_or_nav_order_is_422_and_nothing_is_saved(client, fields, name):
    admin = make_user(username="root", role="admin")
    before = post_count()
    response = client.post(f"{API}/posts", headers=bearer(admin), json={"title": "T", "body": "B", **fields})
    body = assert_error(response, 422)
    assert name in body["fields"] and post_count() == before


def test_only_admins_place_pages_in_the_menu_and_readers_write_no_pages(client):
    author = make_user(username="writer", role="author")
    reader = make_user(username="reader", role="reader")
    placed = client.post(f"{API}/posts", headers=bearer(author),
                         json={"title": "Contact", "body": "Mail us.", "kind": "page", "nav_order": 1})
    assert "nav_order" in assert_error(placed, 422)["fields"]
    made = client.post(f"{API}/posts", headers=bearer(author), json={"title": "Contact", "body": "Mail us.", "kind": "page"})
    assert made.status_code == 201 and made.get_json()["kind"] == "page" and made.get_json()["nav_order"] is None
    refused = client.post(f"{API}/posts", headers=bearer(reader), json={"title": "Mine", "body": "B", "kind": "page"})
    assert "kind" in assert_error(refused, 422)["fields"]
