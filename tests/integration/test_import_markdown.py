"""import-posts with Markdown files (ours, Jekyll, Hugo), static pages at /<slug>, and redirects."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from blog.extensions import db
from blog.models import Category
from blog.models import Post
from blog.models import Redirect
from blog.services import importers
from blog.services import pages
from tests.conftest import HX
from tests.factories import make_post
from tests.factories import make_user


@pytest.fixture
def admin(app):
    return make_user(role="admin", username="boss")


def test_jekyll_and_hugo_files_become_posts(app, admin, tmp_path):
    (tmp_path / "2024-03-01-hello-jekyll.md").write_text(
        "---\ntitle: Hello Jekyll\ndate: 2024-03-01 10:00:00\ncategories: [Notes]\ntags: [a, b]\n---\nBody **one**.\n")
    (tmp_path / "hugo.md").write_text('---\ntitle: "Hugo draft"\ndraft: true\nsummary: Short.\n---\nBody two.\n')

    report = importers.run(tmp_path)

    jekyll = db.session.scalar(select(Post).where(Post.slug == "hello-jekyll"))
    assert jekyll.status == "published" and jekyll.published_at.isoformat() == "2024-03-01T10:00:00"
    assert jekyll.category.slug == "notes" and sorted(t.name for t in jekyll.tags) == ["a", "b"]
    assert "<strong>one</strong>" in jekyll.html and jekyll.author.username == "boss"
    hugo = db.session.scalar(select(Post).where(Post.slug == "hugo"))
    assert hugo.status == "draft" and hugo.summary == "Short."
    assert report.total("post", "created") == 2


def test_a_bad_file_is_reported_and_the_others_go_in(app, admin, tmp_path):
    (tmp_path / "good.md").write_text("---\ntitle: Good\n---\nFine.\n")
    (tmp_path / "broken.md").write_text("---\ntitle: [unclosed\n---\nBody.\n")
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe\x00bad")
    (tmp_path / "evil.md").write_text("---\ntitle: Evil\n---\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n")

    report = importers.run(tmp_path)

    skipped = {line.item: line.reason for line in report.lines if line.action == "skipped"}
    assert "not valid YAML" in skipped["broken.md"] and "UTF-8" in skipped["binary.md"]
    assert set(db.session.scalars(select(Post.slug))) == {"good", "evil"}
    evil = db.session.scalar(select(Post).where(Post.slug == "evil"))
    assert "<script" not in evil.html and "javascript:" not in evil.html


def test_a_markdown_re_import_updates_in_place(app, admin, tmp_path):
    file = tmp_path / "note.md"
    file.write_text("---\ntitle: Note\n---\nOne.\n")
    importers.run(tmp_path)
    file.write_text("---\ntitle: Note, edited\n---\nTwo.\n")
    importers.run(tmp_path)

    rows = list(db.session.scalars(select(Post)))
    assert len(rows) == 1 and rows[0].title == "Note, edited" and rows[0].body == "Two.\n"


# --- static pages --------------------------------------------------------------------------------

def test_a_page_lives_at_its_slug_and_stays_out_of_listings_and_feeds(app, client):
    author = make_user(role="admin")
    make_post(author, title="About us", slug="about-us", kind="page", body="We *write*.")
    make_post(author, title="A post", slug="a-post")

    page = client.get("/about-us")
    assert page.status_code == 200 and b"<em>write</em>" in page.data
    home = client.get("/").data
    assert b"A post" in home and b"About us" not in home
    assert b"About us" not in client.get("/feed.xml").data
    assert [p.slug for p in pages.published_pages()] == ["about-us"]
    moved = client.get("/a-post")  # a post is not a page: its address at the root sends the reader to it
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/blog/a-post")


def test_draft_pages_are_hidden_from_guests(app, client):
    author = make_user(role="admin")
    make_post(author, title="Secret", slug="secret", kind="page", status="draft")
    assert client.get("/secret").status_code == 404


def test_header_links_pages_in_the_order_admins_set(app, client):
    author = make_user(role="admin")
    contact = make_post(author, title="Contact", slug="contact", kind="page", nav_order=2)
    about = make_post(author, title="About", slug="about", kind="page", nav_order=1)
    make_post(author, title="Hidden", slug="hidden", kind="page")

    html = client.get("/").data.decode()
    nav = html.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    assert nav.index('href="/about"') < nav.index('href="/contact"') and "/hidden" not in nav
    pages.set_nav_order({about.id: 3, contact.id: None})
    nav = client.get("/").data.decode().split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/about"' in nav and "/contact" not in nav


def _menu(client) -> str:
    return client.get("/").data.decode().split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]


def test_the_cached_menu_follows_every_change_to_its_pages_and_only_those(app, client, count_queries):
    from datetime import timedelta

    from blog.models import utcnow
    from blog.services import posts

    author = make_user(role="admin")
    about = make_post(author, title="About", slug="about", kind="page", nav_order=1)
    later = make_post(author, title="Later", slug="later", kind="page", nav_order=2, status="scheduled",
                      published_at=utcnow() + timedelta(hours=1))
    assert 'href="/about"' in _menu(client) and "/later" not in _menu(client)  # the menu is cached now
    # A post (not a page) changing leaves the cached menu alone: the home page does not ask for it.
    make_post(author, title="Just a post")
    with count_queries() as after:
        assert "Just a post" in client.get("/").text
    assert after.count and not any("nav_order IS NOT NULL" in sql for sql in after.statements)
    # A scheduled page going live (the every-minute task, no editor involved) is in the menu at once.
    later.published_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    posts.publish_due()
    assert 'href="/later"' in _menu(client)
    about.title = "About us"
    db.session.commit()
    assert ">About us</a>" in _menu(client)
    about.kind = "post"  # no longer a page: out of the menu
    db.session.commit()
    assert 'href="/about"' not in _menu(client)


def test_site_routes_win_over_pages_and_unknown_addresses_stay_404(app, client):
    assert client.get("/tags").status_code == 200
    assert client.get("/nothing-here").status_code == 404
    assert client.post("/nothing-here").status_code == 404
    assert client.get("/a/b/c").status_code == 404
    assert client.get("/api/v1/nothing").status_code == 404
    assert client.get("/api/v1/nothing").is_json
    assert client.get("/admin").status_code in (301, 302, 308)  # still the slash redirect of /admin/
    assert client.post("/tags").status_code == 405 and client.get("/blog/x/delete").status_code == 405


def test_redirects_answer_301_and_trailing_slashes_reach_our_routes(app, client):
    author = make_user(role="admin")
    make_post(author, title="Moved", slug="moved")
    pages.add_redirect("/2019/01/02/old-name/", "/blog/moved")
    pages.add_redirect("/?p=7", "/blog/moved")
    db.session.commit()

    for old in ("/2019/01/02/old-name/", "/2019/01/02/old-name", "/?p=7"):
        response = client.get(old)
        assert response.status_code == 301 and response.headers["Location"] == "/blog/moved", old
    assert client.get("/tags/").headers["Location"] == "/tags"
    assert client.get("/?p=8").status_code == 200  # unknown: the home page as ever
    assert not pages.add_redirect("/blog/moved/", "/blog/moved")  # never a loop
    assert db.session.scalar(select(Redirect.old_path).where(Redirect.old_path == "/2019/01/02/old-name"))


def test_admins_write_pages_in_the_editor_and_set_their_menu_position(app, client):
    from tests.factories import login_as

    admin = make_user(role="admin", username="chief")
    login_as(client, admin)
    response = client.post("/blog/create", data={"title": "Search", "body": "How to search.", "status": "published",
                                                 "kind": "page", "nav_order": "2", "comments_enabled": "y"})

    page = db.session.scalar(select(Post).where(Post.kind == "page"))
    assert page.slug == "search-page"  # /search is the site's own
    assert page.nav_order == 2 and response.headers["Location"] == "/search-page"
    assert 'href="/search-page"' in client.get("/").data.decode()


def test_authors_choose_the_kind_but_not_the_menu_and_readers_write_no_pages(app, client):
    from blog.services import posts
    from blog.services.errors import Invalid

    author = make_user(role="author")
    saved = posts.save(posts.PostInput(title="Colophon", body="Made with care.", status="published", kind="page",
                                       nav_order=1), by=author)
    assert saved.kind == "page" and saved.nav_order is None
    with pytest.raises(Invalid) as error:
        posts.save(posts.PostInput(title="Mine", body="x", kind="page"), by=make_user(role="reader"))
    assert "kind" in error.value.fields


def test_malformed_items_of_our_json_are_reported_and_the_rest_go_in(app, admin, tmp_path):
    import json

    (tmp_path / "export.json").write_text(json.dumps({
        "format": "inkwell-export", "version": 1,
        "users": [{"email": "no-username@example.com"}],
        "posts": [{"slug": "fine", "title": "Fine", "body": "ok", "status": "published", "author": "boss"},
                  {"slug": "odd", "title": ["not", "text"], "body": "x", "kind": "gallery"}, "not an object"]}))
    report = importers.run(tmp_path)

    assert set(db.session.scalars(select(Post.slug))) == {"fine"}
    reasons = [line.reason for line in report.lines if line.action == "skipped"]
    assert any("malformed item" in r for r in reasons) and any("unknown kind" in r for r in reasons)
    assert any(r == "not an object" for r in reasons)
