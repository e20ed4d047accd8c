"""Importing WordPress: the theme test data (counts, threading, statuses, old links), media, bad input."""
from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Category
from blog.models import Comment
from blog.models import ImportedItem
from blog.models import Media
from blog.models import Post
from blog.models import Redirect
from blog.models import Tag
from blog.models import User
from blog.services import importers
from blog.services import media
from blog.services import posts as posts_service
from blog.services.errors import Invalid
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
THEME_DATA = next((p for p in (ROOT.parent / "shared" / "data" / "wordpress" / "themeunittestdata.wordpress.xml",
                               Path("/work/shared/data/wordpress/themeunittestdata.wordpress.xml")) if p.is_file()), None)
needs_theme_data = pytest.mark.skipif(THEME_DATA is None, reason="the WordPress theme test data is not beside the repo")


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def wxr(items: str, *, channel: str = "") -> str:
    """A small WXR 1.2 document around ``items``."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
 xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:wp="http://wordpress.org/export/1.2/">
<channel><title>Old blog</title><link>https://old.example</link>
<wp:wxr_version>1.2</wp:wxr_version><wp:base_blog_url>https://old.example</wp:base_blog_url>
<wp:author><wp:author_login>ann</wp:author_login><wp:author_email>ann@old.example</wp:author_email>
<wp:author_display_name>Ann</wp:author_display_name></wp:author>
<wp:category><wp:term_id>1</wp:term_id><wp:category_nicename>parent</wp:category_nicename>
<wp:category_parent></wp:category_parent><wp:cat_name>Parent</wp:cat_name></wp:category>
<wp:category><wp:term_id>2</wp:term_id><wp:category_nicename>child</wp:category_nicename>
<wp:category_parent>parent</wp:category_parent><wp:cat_name>Child</wp:cat_name></wp:category>
<wp:tag><wp:term_id>3</wp:term_id><wp:tag_slug>my-tag</wp:tag_slug><wp:tag_name>My Tag</wp:tag_name></wp:tag>
{channel}{items}
</channel></rss>"""


def item(post_id: int, title: str, body: str, *, slug: str | None = None, status: str = "publish",
         post_type: str = "post", extra: str = "", comments: str = "") -> str:
    slug = slug if slug is not None else re.sub(r"\W+", "-", title.lower()).strip("-")
    return f"""<item><title>{title}</title><link>https://old.example/2020/05/17/{slug}/</link>
<dc:creator>ann</dc:creator><content:encoded><![CDATA[{body}]]></content:encoded>
<excerpt:encoded><![CDATA[]]></excerpt:encoded><wp:post_id>{post_id}</wp:post_id>
<wp:post_date>2020-05-17 10:00:00</wp:post_date><wp:post_date_gmt>2020-05-17 08:00:00</wp:post_date_gmt>
<wp:post_modified_gmt>2020-05-18 08:00:00</wp:post_modified_gmt><wp:comment_status>open</wp:comment_status>
<wp:post_name>{slug}</wp:post_name><wp:status>{status}</wp:status><wp:post_parent>0</wp:post_parent>
<wp:post_type>{post_type}</wp:post_type><wp:post_password></wp:post_password><wp:is_sticky>0</wp:is_sticky>
<category domain="category" nicename="child">Child</category><category domain="post_tag" nicename="my-tag">My Tag</category>
{extra}{comments}</item>"""


def comment(comment_id: int, body: str, *, parent: int = 0, approved: str = "1", kind: str = "",
            author: str = "Guest Person", email: str = "guest@example.org") -> str:
    return f"""<wp:comment><wp:comment_id>{comment_id}</wp:comment_id><wp:comment_author>{author}</wp:comment_author>
<wp:comment_author_email>{email}</wp:comment_author_email><wp:comment_author_url>https://guest.example</wp:comment_author_url>
<wp:comment_date_gmt>2020-05-19 08:00:00</wp:comment_date_gmt><wp:comment_content><![CDATA[{body}]]></wp:comment_content>
<wp:comment_approved>{approved}</wp:comment_approved><wp:comment_type>{kind}</wp:comment_type>
<wp:comment_parent>{parent}</wp:comment_parent></wp:comment>"""


@pytest.fixture
def admin(app) -> User:
    return make_user(role="admin", username="boss")


def write(tmp_path: Path, text: str, name: str = "export.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def png(colour: str = "red", size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


# --- the theme test data -------------------------------------------------------------------------

@needs_theme_data
def test_theme_test_data_creates_exactly_what_our_model_holds(app, admin):
    report = importers.run(THEME_DATA)

    assert count(Post, Post.kind == "post") == 58 and count(Post, Post.kind == "page") == 21
    assert count(Category) == 68 and count(Category, Category.parent_id.is_not(None)) == 10
    assert count(Tag) == 110
    assert count(User) == 3  # the two WordPress authors and our admin
    skipped = [(line.item, line.reason) for line in report.lines if line.kind == "comment" and line.action == "skipped"]
    assert [reason for _, reason in skipped if "pingback" not in reason and "trackback" not in reason] == []
    assert count(Comment) == 29  # 33 less two pingbacks and two trackbacks
    assert count(Comment, Comment.parent_id.is_not(None)) > 0
    assert report.total("post", "created") == 58 and report.total("page", "created") == 21
    pings = [line for line in report.lines if line.kind == "comment" and line.action == "skipped"]
    assert len(pings) == 4 and all("pingback" in line.reason or "trackback" in line.reason for line in pings)
    assert report.counts["nav_menu_item"]["skipped"] == 70
    # Tags keep their slugs; the category tree keeps its parents.
    assert db.session.scalar(select(Tag).where(Tag.slug == "8bit")) is not None
    grandchild = db.session.scalar(select(Category).where(Category.slug == "grandchild-category"))
    assert grandchild.parent.slug == "child-category-03" and grandchild.parent.parent.slug == "parent-category"


@needs_theme_data
def test_theme_test_data_statuses_dates_and_guest_comments(app, admin):
    report = importers.run(THEME_DATA)

    scheduled = db.session.scalar(select(Post).where(Post.slug == "scheduled"))
    assert scheduled.status == "scheduled" and scheduled.published_at.year >= 2030
    assert db.session.scalar(select(Post).where(Post.slug == "draft")).status == "draft"
    protected = db.session.scalar(select(Post).where(Post.slug == "template-password-protected"))
    assert protected.status == "draft"
    assert any(line.item == "template-password-protected" and "password" in line.reason for line in report.lines)
    assert any(line.item == "template-sticky" and "sticky" in line.reason for line in report.lines)
    markup = db.session.scalar(select(Post).where(Post.slug == "markup-html-tags-and-formatting"))
    assert markup.published_at.isoformat() == "2013-01-12T03:22:19"  # post_date_gmt (post_date is 2013-01-11 20:22)
    guest = db.session.scalar(select(Comment).where(Comment.author_id.is_(None), Comment.author_name.is_not(None)))
    assert guest.author_name and guest.display_name == guest.author_name
    # Comments by the authors of the blog (same email) belong to their accounts.
    assert count(Comment, Comment.author_id.is_not(None)) > 0


@needs_theme_data
def test_theme_test_data_converts_markup_to_markdown_that_renders(app, admin, client):
    importers.run(THEME_DATA)

    nested = db.session.scalar(select(Post).where(Post.slug == "edge-case-nested-and-mixed-lists"))
    assert "<ol>" in nested.html and re.search(r"<li>[^<]*<(ul|ol)>", nested.html.replace("\n", ""))
    tags = db.session.scalar(select(Post).where(Post.slug == "markup-html-tags-and-formatting"))
    assert "<blockquote>" in tags.html and "<pre" in tags.html and "<h2" in tags.html
    assert "<!--" not in tags.body and "wp:" not in tags.body
    more = db.session.scalar(select(Post).where(Post.slug == "template-more-tag"))
    assert more.summary and "<!--more" not in more.body  # the summary break
    for post in db.session.scalars(select(Post).where(Post.status == "published")):
        url = f"/{post.slug}" if post.kind == "page" else f"/blog/{post.slug}"
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"<script>" not in response.data.split(b"</header>", 1)[-1].split(b"<footer")[0]


@needs_theme_data
def test_old_wordpress_addresses_answer_301_with_our_urls(app, admin, client):
    importers.run(THEME_DATA)
    wp_id = db.session.scalar(select(ImportedItem.external_id).join(Post, Post.id == ImportedItem.local_id)
                              .where(ImportedItem.kind == "post", Post.slug == "markup-html-tags-and-formatting"))

    expected = {
        f"/?p={wp_id}": "/blog/markup-html-tags-and-formatting",
        "/2013/01/11/markup-html-tags-and-formatting/": "/blog/markup-html-tags-and-formatting",
        "/2013/01/markup-html-tags-and-formatting/": "/blog/markup-html-tags-and-formatting",
        "/category/parent-category/child-category-03/grandchild-category/": "/category/grandchild-category",
        "/tag/8bit/": "/tag/8bit",
        "/feed/": "/feed.xml",
        "/about/": "/about",
        "/author/themedemos/": "/user/themedemos",
    }
    for old, new in expected.items():
        response = client.get(old)
        assert response.status_code == 301, old
        assert response.headers["Location"] == new, old
        assert client.get(new).status_code == 200, new
    assert client.get("/2013/01/11/no-such-post/").status_code == 404
    assert client.post("/2013/01/11/markup-html-tags-and-formatting/").status_code == 404


@needs_theme_data
def test_running_the_import_again_updates_and_never_duplicates(app, admin):
    importers.run(THEME_DATA)
    before = (count(Post), count(Comment), count(Category), count(Tag), count(User), count(Redirect))
    again = importers.run(THEME_DATA)

    assert (count(Post), count(Comment), count(Category), count(Tag), count(User), count(Redirect)) == before
    assert again.total("post", "updated") == 58 and again.total("post", "created") == 0


@needs_theme_data
def test_a_dry_run_reports_everything_and_keeps_nothing(app, admin, tmp_path):
    report = importers.run(THEME_DATA, dry_run=True)

    assert report.dry_run and report.total("post", "created") == 58 and report.total("comment", "created") == 29
    assert count(Post) == 0 and count(Category) == 0 and count(Comment) == 0 and count(User) == 1
    assert count(ImportedItem) == 0 and count(Redirect) == 0


# --- media ---------------------------------------------------------------------------------------

def attachment(post_id: int, path: str, parent: int = 0) -> str:
    return f"""<item><title>{path}</title><wp:post_id>{post_id}</wp:post_id><wp:post_type>attachment</wp:post_type>
<wp:status>inherit</wp:status><wp:post_parent>{parent}</wp:post_parent>
<wp:attachment_url>https://old.example/wp-content/uploads/{path}</wp:attachment_url>
<wp:postmeta><wp:meta_key>_wp_attached_file</wp:meta_key><wp:meta_value>{path}</wp:meta_value></wp:postmeta></item>"""


def test_attachments_found_under_media_are_checked_stored_and_rewritten(app, admin, tmp_path):
    uploads = tmp_path / "uploads-copy"
    (uploads / "2020/05").mkdir(parents=True)
    (uploads / "2020/05/photo.png").write_bytes(png())
    (uploads / "2020/05/fake.jpg").write_bytes(b"<?php echo 'not an image'; ?>")
    body = ('<p>Look: <img src="https://old.example/wp-content/uploads/2020/05/photo-300x200.png" alt="A photo"></p>'
            '[caption id="c1" width="300"]<img src="https://old.example/wp-content/uploads/2020/05/photo.png" alt="x"> '
            'The caption[/caption]\n\n<p><img src="https://old.example/wp-content/uploads/2020/05/gone.jpg" alt="gone"></p>')
    thumb = "<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key><wp:meta_value>11</wp:meta_value></wp:postmeta>"
    path = write(tmp_path, wxr(attachment(11, "2020/05/photo.png", 5) + attachment(12, "2020/05/fake.jpg", 5)
                               + attachment(13, "2020/05/gone.jpg", 5) + item(5, "With pictures", body, extra=thumb)))

    report = importers.run(path, media_dir=uploads)

    stored = [p for p in (Path(app.config["UPLOAD_FOLDER"]) / "media").iterdir() if "-" not in p.name]
    # Only the real image, under a random name (the worker added its WebP variant and stripped it).
    assert len(stored) == 1 and Image.open(stored[0]).convert("RGB").tobytes() == Image.open(BytesIO(png())).convert("RGB").tobytes()
    post = db.session.scalar(select(Post).where(Post.slug == "with-pictures"))
    assert f"/uploads/media/{stored[0].name}" in post.body and "photo-300x200" not in post.body
    # Like an upload: a media row in the importer's library, used by the post, sized in its html.
    row = db.session.scalar(select(Media))
    assert row.key == stored[0].name and row.owner_id == admin.id and row.processed
    assert media.usage([row.id])[row.id] == [("With pictures", "with-pictures", "post")]
    assert f'width="{row.width}" height="{row.height}"' in post.html and "srcset=" in post.html
    assert "*The caption*" in post.body
    assert post.cover_image is not None  # the featured image became the cover
    reasons = {line.item: line.reason for line in report.lines if line.kind == "media"}
    assert "not accepted" in reasons["2020/05/fake.jpg"] or "JPEG" in reasons["2020/05/fake.jpg"]
    assert "not found" in reasons["2020/05/gone.jpg"]


def test_a_failing_item_leaves_no_file_behind(app, admin, tmp_path):
    uploads = tmp_path / "uploads-copy"
    (uploads / "2020/05").mkdir(parents=True)
    (uploads / "2020/05/photo.png").write_bytes(png())
    thumb = "<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key><wp:meta_value>11</wp:meta_value></wp:postmeta>"
    too_long = "x" * (posts_service.MAX_BODY + 10)
    path = write(tmp_path, wxr(attachment(11, "2020/05/photo.png") + item(5, "Huge", too_long, extra=thumb)
                               + item(6, "Fine", "<p>ok</p>")))

    report = importers.run(path, media_dir=uploads)

    assert [line.reason for line in report.lines if line.action == "skipped" and line.kind == "post"] == \
        [f"the body is over {posts_service.MAX_BODY:,} characters"]
    assert not (Path(app.config["UPLOAD_FOLDER"]) / "covers").exists() or \
        not list((Path(app.config["UPLOAD_FOLDER"]) / "covers").iterdir())
    assert count(Post) == 1  # the rest went in


# --- bad input -----------------------------------------------------------------------------------

def test_a_truncated_file_is_refused_before_anything_is_written(app, admin, tmp_path):
    text = wxr(item(5, "One", "<p>one</p>") + item(6, "Two", "<p>two</p>"))
    path = write(tmp_path, text[: len(text) // 2])

    with pytest.raises(Invalid, match="not well-formed XML"):
        importers.run(path)
    assert count(Post) == 0 and count(Category) == 0


def test_an_xml_bomb_is_refused(app, admin, tmp_path):
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
            '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><rss><channel><item><title>&lol3;</title></item></channel></rss>')
    with pytest.raises(Invalid, match="refused"):
        importers.run(write(tmp_path, bomb))
    assert count(Post) == 0


def test_a_file_that_is_no_export_gets_a_clear_error(app, admin, tmp_path):
    with pytest.raises(Invalid, match="not our JSON export"):
        importers.run(write(tmp_path, "just some words", "notes.txt"))
    with pytest.raises(Invalid, match="not a WordPress export"):
        importers.run(write(tmp_path, "<html><body>hi</body></html>", "page.xml"))


def test_scripts_are_sanitised_duplicate_slugs_renamed_and_unknown_types_reported(app, admin, tmp_path):
    items = (item(5, "Same", "<p>first</p><script>alert(1)</script>", slug="same")
             + item(6, "Same", '<p onclick="x()">second <a href="javascript:alert(1)">link</a></p>', slug="same")
             + item(7, "A product", "<p>x</p>", post_type="product")
             + item(8, "Gone", "<p>x</p>", status="trash")
             + item(9, "Search", "<p>a page</p>", slug="search", post_type="page"))
    report = importers.run(write(tmp_path, wxr(items)))

    slugs = set(db.session.scalars(select(Post.slug)))
    assert slugs == {"same", "same-2", "search-page"}
    for post in db.session.scalars(select(Post)):
        assert "<script" not in post.html and "onclick" not in post.html and "javascript:" not in post.html
    assert report.counts["product"]["skipped"] == 1
    assert any(line.action == "skipped" and "trash" in line.reason for line in report.lines)
    assert any("taken" in line.reason for line in report.lines)
    assert any("<script> removed" in line.reason for line in report.lines)


def test_comments_keep_threading_approval_and_guest_names(app, admin, tmp_path):
    comments = (comment(1, "Top") + comment(2, "Reply", parent=1) + comment(3, "Reply to reply", parent=2)
                + comment(4, "Held", approved="0") + comment(5, "Spammy", approved="spam")
                + comment(6, "ping", kind="pingback") + comment(7, "By Ann", email="ann@old.example", author="Ann"))
    importers.run(write(tmp_path, wxr(item(5, "Talked about", "<p>x</p>", comments=comments))))

    rows = {c.body.strip(): c for c in db.session.scalars(select(Comment))}
    assert set(rows) == {"Top", "Reply", "Reply to reply", "Held", "Spammy", "By Ann"}
    assert rows["Reply"].parent_id == rows["Top"].id and rows["Reply to reply"].parent_id == rows["Reply"].id
    assert rows["Held"].status == "pending" and rows["Spammy"].status == "spam" and rows["Top"].status == "approved"
    assert rows["Top"].author_id is None and rows["Top"].author_name == "Guest Person"
    assert rows["Top"].author_url == "https://guest.example"
    assert rows["By Ann"].author.username == "ann"


def test_an_unknown_author_goes_to_the_given_author(app, admin, tmp_path):
    writer = make_user(role="author", username="writer")
    text = wxr(item(5, "Orphan", "<p>x</p>").replace("<dc:creator>ann</dc:creator>", "<dc:creator>nobody</dc:creator>"))
    importers.run(write(tmp_path, text), author=writer)

    assert db.session.scalar(select(Post).where(Post.slug == "orphan")).author_id == writer.id


def test_imported_authors_have_no_usable_password(app, admin, tmp_path):
    importers.run(write(tmp_path, wxr(item(5, "Hello", "<p>x</p>"))))

    ann = db.session.scalar(select(User).where(User.username == "ann"))
    assert ann.email == "ann@old.example" and ann.role == "author"
    assert not ann.check_password("") and not ann.check_password("ann")
