"""export-posts: JSON and Markdown, everything the blog owns, and the round trip through import-posts."""
from __future__ import annotations

import json
import shutil
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
import yaml
from PIL import Image
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Category
from blog.models import Comment
from blog.models import Post
from blog.models import Tag
from blog.models import User
from blog.models import utcnow
from blog.services import export
from blog.services import importers
from blog.services import media
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user
from tests.factories import wipe_content


def png() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (60, 40), "teal").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def blog(app) -> dict:
    """A small blog: a category tree, tags, posts of several statuses, a page, threaded comments, a cover."""
    ada = make_user(role="author", username="ada", email="ada@example.com")
    grace = make_user(role="admin", username="grace", email="grace@example.com")
    programming = Category(name="Programming", slug="programming")
    python = Category(name="Python", slug="python", parent=programming)
    db.session.add_all([programming, python])
    db.session.commit()
    first = make_post(ada, title="First light", slug="first-light", body="# Hi\n\nSome *text*.\n", tags=["snake", "intro"],
                      category=python, summary="The first.")
    make_post(ada, title="Half done", slug="half-done", status="draft", body="Not yet.")
    make_post(grace, title="Later", slug="later", status="scheduled", body="Soon.",
              published_at=utcnow().replace(microsecond=0) + timedelta(days=3))
    make_post(grace, title="About", slug="about", kind="page", body="Who we are.", nav_order=1)
    top = make_comment(first, body="Top comment")
    make_comment(first, author=grace, body="A reply", parent=top)
    db.session.add(Comment(post=first, body="From a guest", html="<p>From a guest</p>", status="pending",
                           author_name="Visitor", author_email="v@example.org"))
    first.cover_image = media.store_imported_cover(png())
    db.session.commit()
    return {"ada": ada, "grace": grace, "first": first}


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_json_export_holds_everything_but_password_hashes(app, blog, tmp_path):
    counts = export.export("json", tmp_path)
    document = json.loads((tmp_path / "export.json").read_text())

    assert document["format"] == "inkwell-export" and document["version"] == export.VERSION
    assert counts["posts"] == 3 and counts["pages"] == 1 and counts["comments"] == 3
    assert {u["username"] for u in document["users"]} == {"ada", "grace"}
    assert "password" not in json.dumps(document["users"]) and blog["ada"].password_hash not in json.dumps(document)
    assert {(c["slug"], c["parent"]) for c in document["categories"]} == {("programming", None), ("python", "programming")}
    posts = {p["slug"]: p for p in document["posts"]}
    assert {p["status"] for p in posts.values()} == {"published", "draft", "scheduled"}
    assert posts["about"]["kind"] == "page" and posts["about"]["nav_order"] == 1
    assert posts["first-light"]["category"] == ["programming", "python"]
    thread = posts["first-light"]["comments"]
    assert [c["parent"] for c in thread] == [None, 1, None]
    assert thread[2]["author"] is None and thread[2]["author_name"] == "Visitor" and thread[2]["status"] == "pending"
    cover = posts["first-light"]["cover"]
    assert cover.startswith("media/covers/") and (tmp_path / cover).read_bytes() == png()


def test_markdown_export_writes_one_file_per_post_with_front_matter(app, blog, tmp_path):
    export.export("markdown", tmp_path)

    text = (tmp_path / "first-light.md").read_text()
    head, body = text.split("---\n", 2)[1:]
    fields = yaml.safe_load(head)
    assert fields["title"] == "First light" and fields["slug"] == "first-light" and fields["author"] == "ada"
    assert fields["category"] == ["programming", "python"] and fields["tags"] == ["intro", "snake"]
    assert fields["status"] == "published" and fields["summary"] == "The first." and fields["cover"].startswith("media/covers/")
    assert isinstance(fields["published_at"], str) and fields["published_at"].endswith("Z")
    assert body == "# Hi\n\nSome *text*.\n"
    assert yaml.safe_load((tmp_path / "about.md").read_text().split("---\n")[1])["kind"] == "page"


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_export_import_into_an_empty_blog_export_gives_the_same_files(app, blog, tmp_path, fmt):
    first, second = tmp_path / "first", tmp_path / "second"
    export.export(fmt, first)
    wipe_content()
    db.session.execute(User.__table__.delete())
    db.session.commit()
    shutil.rmtree(app.config["UPLOAD_FOLDER"])  # an empty blog has no files either

    report = importers.run(first)
    assert not [line for line in report.lines if line.action == "skipped"], report.text()
    export.export(fmt, second)

    assert files(second) == files(first)


def test_the_export_command_shows_progress_and_counts(app, blog, runner, tmp_path):
    result = runner.invoke(args=["export-posts", "--format", "markdown", "--out", str(tmp_path / "out")])

    assert result.exit_code == 0, result.output
    assert "Exported 3 posts, 1 pages" in result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.md")) == ["about.md", "first-light.md", "half-done.md", "later.md"]


def test_the_import_command_reports_and_a_dry_run_changes_nothing(app, blog, runner, tmp_path):
    export.export("json", tmp_path / "out")
    wipe_content()
    result = runner.invoke(args=["import-posts", str(tmp_path / "out"), "--dry-run", "--report", str(tmp_path / "r.json")])

    assert result.exit_code == 0, result.output
    assert "Dry run" in result.output and "post: 3 created" in result.output
    assert db.session.scalar(select(func.count()).select_from(Post)) == 0
    assert json.loads((tmp_path / "r.json").read_text())["counts"]["page"]["created"] == 1

    result = runner.invoke(args=["import-posts", str(tmp_path / "out")])
    assert result.exit_code == 0 and db.session.scalar(select(func.count()).select_from(Post)) == 4


def test_the_import_command_refuses_an_unknown_author_and_bad_files(app, blog, runner, tmp_path):
    (tmp_path / "x.xml").write_text("<rss><channel><item>", encoding="utf-8")
    result = runner.invoke(args=["import-posts", str(tmp_path / "x.xml")])
    assert result.exit_code == 1 and "not well-formed XML" in result.output
    result = runner.invoke(args=["import-posts", str(tmp_path / "x.xml"), "--author", "nobody"])
    assert result.exit_code == 1 and "no user 'nobody'" in result.output


def test_a_newer_export_version_is_refused(app, blog, tmp_path):
    (tmp_path / "export.json").write_text(json.dumps({"format": "inkwell-export", "version": 99}))
    with pytest.raises(importers.Invalid, match="version 99"):
        importers.run(tmp_path)
