"""Autosave and revisions through the test client: htmx and no-JS paths, conflicts, access, query counts."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Post
from blog.models import PostRevision
from blog.services import posts
from blog.services.posts import PostInput
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_user


def form(**fields) -> dict:
    data = {"title": "Hello world", "body": "Some **Markdown**.", "summary": "", "tags": "", "category_id": "",
            "status": "published", "publish_at": "", "comments_enabled": "y"}
    data.update(fields)
    return data


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def hidden(html: str, name: str) -> str | None:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', html)
    return found.group(1) if found else None


@pytest.fixture
def author(client):
    user = make_user(role="author", username="writer")
    login_as(client, user)
    return user


def _post(author, **fields):
    values = {"title": "Live post", "body": "Line one\nLine two", "status": "published"}
    values.update(fields)
    return posts.save(PostInput(**values), by=author)


def test_the_editor_autosaves_and_carries_the_version_it_was_opened_at(client, author):
    post = _post(author)
    html = client.get(f"/blog/{post.slug}/edit").text
    assert f'hx-post="/blog/{post.slug}/autosave"' in html and 'hx-trigger="input from:closest form delay:3s"' in html
    assert 'id="autosave" class="autosave" role="status"' in html
    assert hidden(html, "version") == str(post.version)
    assert re.search(r'<script src="/static/js/editor-guard(\.[0-9a-f]+)?\.js" defer>', html)
    assert f'href="/blog/{post.slug}/revisions"' in html
    new = client.get("/blog/create").text
    assert 'hx-post="/blog/autosave"' in new and hidden(new, "version") is None


def test_first_autosave_of_a_new_post_creates_a_draft_and_moves_the_editor_to_it(client, author):
    response = client.post("/blog/autosave", data=form(title="Started typing"), headers=HX)
    assert response.status_code == 200
    post = db.session.scalars(select(Post)).one()
    assert post.status == "draft" and post.title == "Started typing"
    assert response.headers["HX-Replace-Url"] == f"/blog/{post.slug}/edit"
    assert re.search(r"Saved <time datetime=\"[^\"]+Z\"[^>]*>\d\d:\d\d UTC</time>", response.text)  # the writer's zone, named
    assert hidden(response.text, "draft") == post.slug and hidden(response.text, "version") == str(post.version)
    assert "<html" not in response.text
    # The next autosave names the draft: the same post is updated, no second one appears.
    again = client.post("/blog/autosave", data=form(title="Started typing more", draft=post.slug,
                                                     version=hidden(response.text, "version")), headers=HX)
    assert again.status_code == 200 and count(Post) == 1
    db.session.expire_all()
    assert db.session.get(Post, post.id).title == "Started typing more"
    # Pressing Save on that same (create) form saves the draft, with the status chosen.
    saved = client.post("/blog/create", data=form(title="Finished", draft=post.slug, status="published",
                                                   version=hidden(again.text, "version")))
    assert saved.status_code == 303 and count(Post) == 1
    db.session.expire_all()
    assert db.session.get(Post, post.id).status == "published"


def test_autosave_without_a_title_says_so_and_keeps_the_draft_fields(client, author):
    response = client.post("/blog/autosave", data=form(title=""), headers=HX)
    assert response.status_code == 422 and "Not autosaved" in response.text and "title" in response.text
    assert count(Post) == 0
    draft = _post(author, status="draft")
    response = client.post("/blog/autosave", data=form(title="", draft=draft.slug, version=draft.version), headers=HX)
    assert response.status_code == 422 and hidden(response.text, "draft") == draft.slug
    assert hidden(response.text, "version") == str(draft.version)


def test_autosave_of_a_published_post_keeps_a_revision_and_leaves_the_page_alone(client, author):
    post = _post(author)
    response = client.post(f"/blog/{post.slug}/autosave", data=form(title="Live post", body="Half-typed <em>idea"),
                           headers=HX)
    assert response.status_code == 200 and "as a revision" in response.text
    assert hidden(response.text, "version") == str(post.version)
    assert "Half-typed" not in client.get(f"/blog/{post.slug}").text
    kept = db.session.scalars(select(PostRevision).where(PostRevision.kind == "autosave")).one()
    assert kept.body == "Half-typed <em>idea" and kept.author_id == author.id


def test_an_autosave_after_a_manual_save_is_refused_in_place(client, author):
    draft = _post(author, status="draft")
    opened = draft.version
    assert client.post(f"/blog/{draft.slug}/edit", data=form(title="Saved by hand", status="draft",
                                                             slug=draft.slug, version=opened)).status_code == 303
    late = client.post(f"/blog/{draft.slug}/autosave", data=form(title="Late", status="draft", version=opened),
                       headers=HX)
    assert late.status_code == 409 and "changed since you" in late.text
    db.session.expire_all()
    assert db.session.get(Post, draft.id).title == "Saved by hand"


def test_second_tab_save_is_told_and_loses_nothing(client, author):
    post = _post(author)
    opened = post.version
    first = client.post(f"/blog/{post.slug}/edit", data=form(title="Live post", body="Tab one", slug=post.slug,
                                                             version=opened))
    assert first.status_code == 303
    for headers in ({}, HX):  # without JavaScript and in place
        second = client.post(f"/blog/{post.slug}/edit", data=form(title="Live post", body="Tab two's long text",
                                                                  slug=post.slug, version=opened), headers=headers)
        assert second.status_code == 409
        assert "This post changed since you opened it" in second.text
        assert "Tab two&#39;s long text" in second.text or "Tab two's long text" in second.text
        assert f'href="/blog/{post.slug}/revisions"' in second.text
        assert ("<html" in second.text) == (not headers)
    db.session.expire_all()
    current = db.session.get(Post, post.id)
    assert current.body == "Tab one"
    assert db.session.scalars(select(PostRevision.body).where(PostRevision.kind == "autosave")).all() == \
        ["Tab two's long text"]
    # The form came back based on the newer version: saving it again is a deliberate replace.
    again = client.post(f"/blog/{post.slug}/edit", data=form(title="Live post", body="Tab two's long text",
                                                             slug=post.slug, version=hidden(second.text, "version")))
    assert again.status_code == 303
    db.session.expire_all()
    assert db.session.get(Post, post.id).body == "Tab two's long text"


def test_an_editor_post_without_a_version_still_saves(client, author):
    post = _post(author)
    assert client.post(f"/blog/{post.slug}/edit", data=form(title="No version field", slug=post.slug)).status_code == 303


def test_autosave_is_rate_limited(client, author):
    post = _post(author)
    codes = [client.post(f"/blog/{post.slug}/autosave", data=form(version=post.version), headers=HX).status_code
             for _ in range(41)]
    assert codes[:40] == [200] * 40 and codes[40] == 429


def test_revisions_page_lists_diffs_escaped_and_has_a_fragment(client, author):
    post = _post(author, body="Line one\n<script>alert(1)</script>")
    posts.save(PostInput(title="Live post", body="Line one\nLine three", status="published", slug=post.slug),
               by=author, post=post)
    first = db.session.scalars(select(PostRevision).order_by(PostRevision.id)).first()
    page = client.get(f"/blog/{post.slug}/revisions?rev={first.id}")
    assert page.status_code == 200 and "<html" in page.text and "HX-Request" in page.headers["Vary"]
    assert "<del>&lt;script&gt;alert(1)&lt;/script&gt;</del>" in page.text and "<ins>Line three</ins>" in page.text
    assert "<script>alert(1)" not in page.text
    assert page.text.count('<tr id="revision-') == 2 and "writer" in page.text and ">Save<" in page.text
    fragment = client.get(f"/blog/{post.slug}/revisions?rev={first.id}", headers=HX)
    assert "<html" not in fragment.text and 'id="history"' in fragment.text
    assert client.get(f"/blog/{post.slug}/revisions?rev=999999").status_code == 404


def test_restore_saves_the_revision_again_and_redirects_to_the_editor(client, author):
    post = _post(author, body="Original words")
    posts.save(PostInput(title="Live post", body="Replaced words", status="published", slug=post.slug),
               by=author, post=post)
    first = db.session.scalars(select(PostRevision).order_by(PostRevision.id)).first()
    response = client.post(f"/blog/{post.slug}/revisions/{first.id}/restore")
    assert response.status_code == 303 and response.headers["Location"] == f"/blog/{post.slug}/edit"
    assert "Original words" in client.get(f"/blog/{post.slug}").text
    assert count(PostRevision) == 3
    htmx = client.post(f"/blog/{post.slug}/revisions/{first.id}/restore", headers=HX)
    assert htmx.status_code == 200 and htmx.headers["HX-Redirect"] == f"/blog/{post.slug}/edit"


def test_someone_elses_revisions_are_forbidden_and_their_drafts_unknown(client, author):
    other = make_user(role="author")
    public = _post(other)
    draft = _post(other, status="draft", title="Secret draft")
    revision = db.session.scalars(select(PostRevision).where(PostRevision.post_id == public.id)).first()
    assert client.get(f"/blog/{public.slug}/revisions").status_code == 403
    assert client.post(f"/blog/{public.slug}/revisions/{revision.id}/restore").status_code == 403
    assert client.post(f"/blog/{public.slug}/autosave", data=form(), headers=HX).status_code == 403
    assert client.post("/blog/autosave", data=form(draft=draft.slug), headers=HX).status_code == 404
    assert client.get(f"/blog/{draft.slug}/revisions").status_code == 404
    assert count(PostRevision) == 2  # the other author's two saves, nothing added
    moderator = make_user(role="moderator")
    login_as(client, moderator)
    assert client.get(f"/blog/{public.slug}/revisions").status_code == 200


def test_revisions_page_runs_the_same_queries_for_3_or_60_revisions(client, author, count_queries):
    def measure(post, page: int) -> int:
        rev = db.session.scalars(select(PostRevision.id).where(PostRevision.post_id == post.id)).first()
        url = f"/blog/{post.slug}/revisions?rev={rev}&page={page}"
        client.get(url)  # warm up (sidebar widgets, categories)
        with count_queries() as queries:
            response = client.get(url)
        assert response.status_code == 200 and response.text.count('<tr id="revision-') == (20 if page > 1 else 3)
        return queries.count

    short, long = _post(author, title="Short", tags="a, b"), _post(author, title="Long", tags="a, b")
    for target, saves in ((short, 2), (long, 59)):
        for number in range(saves):
            posts.save(PostInput(title=target.title, body=f"Body {number}", status="published", slug=target.slug,
                                 tags="a, b"), by=author, post=target)
    few, many = measure(short, 1), measure(long, 2)
    assert few == many, (few, many)
    assert few <= 8, few
