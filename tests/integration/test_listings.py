"""Category, tag, archive and author listings, the tag page, the sidebar and the feeds."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

from blog.extensions import db
from blog.models import Category
from blog.services import taxonomy
from tests.conftest import HX
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user


def titles(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/blog/[^"]+">([^<]+)</a></h2>', html)


@pytest.fixture
def tree(app):
    """Programming > Python > Flask, and Notes."""
    programming = Category(name="Programming", slug="programming", description="Code.")
    python = Category(name="Python", slug="python", parent=programming)
    flask = Category(name="Flask", slug="flask", parent=python)
    notes = Category(name="Notes", slug="notes")
    db.session.add_all([programming, python, flask, notes])
    db.session.commit()
    return {"programming": programming, "python": python, "flask": flask, "notes": notes}


def test_category_lists_its_posts_and_all_descendants_with_breadcrumbs(client, tree):
    make_post(title="Top level", category=tree["programming"], age_hours=3)
    make_post(title="Deep", category=tree["flask"], age_hours=1)
    make_post(title="Elsewhere", category=tree["notes"])
    make_post(title="Unpublished", category=tree["flask"], status="draft")
    page = client.get("/category/programming").text
    assert titles(page) == ["Deep", "Top level"]
    python = client.get("/category/python").text
    assert titles(python) == ["Deep"]
    crumbs = re.search(r'<nav class="breadcrumbs".*?</nav>', python, re.S).group(0)
    assert 'href="/category/programming">Programming</a>' in crumbs and 'aria-current="page">Python' in crumbs


def test_category_fragment_and_unknown_category(client, tree):
    make_post(title="Deep", category=tree["flask"])
    fragment = client.get("/category/programming", headers=HX)
    assert "<html" not in fragment.text and titles(fragment.text) == ["Deep"]
    assert client.get("/category/nope").status_code == 404


def test_tag_page_lists_only_posts_with_the_tag(client):
    make_post(title="Tagged", tags=["python"])
    make_post(title="Other", tags=["rust"])
    assert titles(client.get("/tag/python").text) == ["Tagged"]
    assert client.get("/tag/missing").status_code == 404


def test_tags_page_shows_counts_of_published_posts_only(client):
    make_post(tags=["python"])
    make_post(tags=["python"])
    make_post(tags=["rust"], status="draft")
    html = client.get("/tags").text
    assert re.search(r'href="/tag/python">#python</a> <span class="count">2</span>', html)
    assert "#rust" not in html


def test_archive_by_year_and_month(client):
    make_post(title="March", published_at=datetime(2025, 3, 10))
    make_post(title="December", published_at=datetime(2025, 12, 31, 23, 59))
    make_post(title="Next year", published_at=datetime(2026, 1, 1))
    assert titles(client.get("/archive/2025").text) == ["December", "March"]
    assert titles(client.get("/archive/2025/3").text) == ["March"]
    assert "Archive: December 2025" in client.get("/archive/2025/12").text
    assert client.get("/archive/2025/13").status_code == 404
    assert client.get("/archive/0").status_code == 404


def test_author_profile_lists_their_published_posts(client):
    ada = make_user(username="ada", bio="Writes about engines.",
                    social_links={"website": "https://ada.example", "bad": "javascript:alert(1)"})
    make_post(author=ada, title="By Ada")
    make_post(author=ada, title="Ada's draft", status="draft")
    make_post(title="By someone else")
    html = client.get("/user/ada").text
    assert titles(html) == ["By Ada"]
    assert "Writes about engines." in html and 'href="https://ada.example"' in html
    assert "javascript:" not in html
    assert client.get("/user/nobody").status_code == 404


def test_deactivated_users_have_no_public_profile(client):
    make_user(username="gone", is_active=False)
    assert client.get("/user/gone").status_code == 404


def test_sidebar_shows_the_blog_map_on_full_pages_only(client, tree):
    reader = make_user(role="reader", username="reader1")
    post = make_post(title="Popular one", category=tree["flask"], tags=["python"], views=900)
    make_comment(post, author=reader, body="Loved the part about pools")
    html = client.get("/").text
    aside = re.search(r"<aside.*</aside>", html, re.S).group(0)
    assert re.search(r'href="/category/programming"[^>]*>Programming</a> <span class="count">1</span>', aside)
    assert 'href="/tag/python"' in aside and "Popular one" in aside and "900 reads" in aside
    assert "Loved the part about pools" in aside and 'href="/user/' in aside
    assert "<aside" not in client.get("/", headers=HX).text


def test_cleared_widgets_show_new_content_at_once(client):
    make_post(title="First", tags=["python"])
    assert "#rust" not in client.get("/").text
    make_post(title="Second", tags=["rust"])
    taxonomy.clear_widgets()
    assert "#rust" in client.get("/").text


def test_rss_feed_lists_newest_published_posts_with_escaped_html(client, tree):
    make_post(title="Old", age_hours=5, body="Old **body**")
    make_post(title="New <fast>", age_hours=1, category=tree["python"], tags=["python"])
    make_post(title="Draft", status="draft")
    response = client.get("/feed.xml")
    assert response.mimetype == "application/rss+xml"
    channel = ET.fromstring(response.data).find("channel")
    items = channel.findall("item")
    assert [i.findtext("title") for i in items] == ["New <fast>", "Old"]
    assert items[1].findtext("description") == "<p>Old <strong>body</strong></p>"
    assert items[0].findtext("link").startswith("http://localhost/blog/")
    assert {c.text for c in items[0].findall("category")} == {"Python", "python"}


def test_category_and_tag_feeds_filter_and_404(client, tree):
    make_post(title="Deep", category=tree["flask"], tags=["python"])
    make_post(title="Elsewhere", category=tree["notes"])
    category = ET.fromstring(client.get("/category/programming/feed.xml").data)
    assert [i.findtext("title") for i in category.iter("item")] == ["Deep"]
    tag = ET.fromstring(client.get("/tag/python/feed.xml").data)
    assert [i.findtext("title") for i in tag.iter("item")] == ["Deep"]
    assert client.get("/tag/none/feed.xml").status_code == 404


def test_home_tag_chips_filter_the_list_in_place(client):
    make_post(title="Py one", tags=["python"], age_hours=2)
    make_post(title="Rusty", tags=["rust"], age_hours=1)
    page = client.get("/").text
    assert 'id="tag-filter-python" href="/?tag=python" hx-get="/?tag=python"' in page
    chip = client.get("/?tag=python", headers={**HX, "HX-Trigger": "tag-filter-python"})
    assert titles(chip.text) == ["Py one"]
    assert chip.text.lstrip().startswith('<section id="post-list"')
    assert '<div id="listing-head" hx-swap-oob="true">' in chip.text
    assert "Posts tagged #python" in chip.text and 'aria-current="page">#python' in chip.text
    # Paging inside a filter keeps the tag and needs no out-of-band heading.
    paging = client.get("/?tag=python", headers=HX)
    assert "hx-swap-oob" not in paging.text
    full = client.get("/?tag=python").text
    assert titles(full) == ["Py one"] and "<html" in full
    assert client.get("/?tag=unknown").status_code == 404
