"""Crawlers and readers: sitemap, robots.txt, Atom and RSS, head meta and JSON-LD, the archive index."""
from __future__ import annotations

import io
import json
import re
from html import escape as html_escape
from datetime import datetime
from datetime import timedelta
from xml.etree import ElementTree

import feedparser
import pytest
from PIL import Image

from blog.extensions import db
from blog.services import viewcounts
from blog.models import Category
from blog.models import utcnow
from blog.services import sitemap
from tests.factories import make_post
from tests.factories import make_user

NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@pytest.fixture
def site(app):
    databases = Category(name="Databases", slug="databases")
    sql = Category(name="SQL", slug="sql", parent=databases)
    db.session.add_all([databases, sql])
    db.session.commit()
    author = make_user(role="author", username="ann")
    public = make_post(author=author, title="Public post", category=sql, tags=["postgres"],
                       body="Read [this](/blog/other) and see ![a chart](/uploads/chart.png). Then more.",
                       summary="", published_at=datetime(2025, 3, 4, 10, 0))
    make_post(author=author, title="Newer post", published_at=datetime(2026, 1, 2, 9, 0))
    hidden = {status: make_post(author=make_user(role="author", username=f"only-{status}"), title=f"A {status} one",
                                status=status, tags=[f"t-{status}"],
                                **({"published_at": utcnow() + timedelta(days=3)} if status == "scheduled" else {}))
              for status in ("draft", "pending", "scheduled", "archived")}
    return {"public": public, "hidden": hidden, "databases": databases, "sql": sql}


def locs(xml: str) -> list[str]:
    return [el.text for el in ElementTree.fromstring(xml).iterfind(".//s:loc", NS)]


def test_sitemap_lists_every_public_page_and_no_private_one(client, site):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    urls = locs(response.text)
    for path in ("/", "/archive", "/tags", "/blog/" + site["public"].slug, "/category/databases", "/category/sql",
                 "/tag/postgres", "/user/ann", "/archive/2025", "/archive/2025/3", "/archive/2026/1"):
        assert "http://localhost" + path in urls, path
    for post in site["hidden"].values():
        assert not any(post.slug in url for url in urls), post.status
    assert not any("/user/only-" in url or "/tag/t-" in url for url in urls)  # their authors and tags have no public post
    assert not any(part in url for url in urls for part in ("/admin", "/auth", "/my/", "/api", "/search"))
    tree = ElementTree.fromstring(response.text)
    entry = next(u for u in tree.iterfind("s:url", NS) if u.find("s:loc", NS).text.endswith(site["public"].slug))
    assert entry.find("s:lastmod", NS).text == site["public"].updated_at.replace(microsecond=0).isoformat() + "Z"


def test_sitemap_lists_static_pages_at_their_own_address_not_as_posts(client, site):
    about = make_post(author=make_user(role="admin", username="boss"), title="About us", kind="page")
    make_post(author=make_user(role="admin", username="boss2"), title="Draft page", kind="page", status="draft")
    urls = locs(client.get("/sitemap.xml").text)
    assert f"http://localhost/{about.slug}" in urls and f"http://localhost/blog/{about.slug}" not in urls
    assert not any("draft-page" in url for url in urls)
    assert "http://localhost/user/boss" not in urls  # a page is no post of its author's


def test_every_sitemap_url_answers_200(client, site):
    for url in locs(client.get("/sitemap.xml").text):
        assert client.get(url.removeprefix("http://localhost")).status_code == 200, url


def test_sitemap_becomes_an_index_of_parts_past_the_limit(client, site, monkeypatch):
    monkeypatch.setattr(sitemap, "MAX_URLS", 4)
    index = client.get("/sitemap.xml").text
    assert "<sitemapindex" in index
    parts = locs(index)
    assert parts[0] == "http://localhost/sitemap-1.xml"
    urls = [url for part in parts for url in locs(client.get(part.removeprefix("http://localhost")).text)]
    assert len(urls) == len(set(urls)) and all(len(locs(client.get(p[16:]).text)) <= 4 for p in parts)
    assert client.get(f"/sitemap-{len(parts) + 1}.xml").status_code == 404
    monkeypatch.setattr(sitemap, "MAX_URLS", 50_000)
    monkeypatch.setattr(sitemap, "MAX_BYTES", 600)  # the size limit splits too
    assert "<sitemapindex" in client.get("/sitemap.xml").text


def test_sitemap_and_robots_answer_conditional_gets(client, site):
    for path in ("/sitemap.xml", "/robots.txt"):
        first = client.get(path)
        assert first.headers["ETag"]
        assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    last = client.get("/sitemap.xml").headers["Last-Modified"]
    assert client.get("/sitemap.xml", headers={"If-Modified-Since": last}).status_code == 304


def test_robots_names_the_sitemap_and_keeps_crawlers_out_of_private_paths(client):
    text = client.get("/robots.txt").text
    assert "Sitemap: http://localhost/sitemap.xml" in text
    for path in ("/admin/", "/auth/", "/my/", "/api/", "/search?", "/search$"):
        assert f"Disallow: {path}\n" in text


def test_generate_sitemap_writes_the_same_files(app, client, runner, site, tmp_path):
    result = runner.invoke(args=["generate-sitemap", "--out", str(tmp_path / "static")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "static" / "sitemap.xml").read_text() == client.get("/sitemap.xml").text
    assert (tmp_path / "static" / "robots.txt").read_text() == client.get("/robots.txt").text


@pytest.mark.parametrize("path", ["/feed.atom", "/category/databases/feed.atom", "/tag/postgres/feed.atom",
                                  "/user/ann/feed.atom", "/feed.xml", "/user/ann/feed.xml"])
def test_feeds_parse_without_warnings_with_absolute_links_and_stable_ids(client, site, path):
    response = client.get(path)
    assert response.status_code == 200
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version in ("atom10", "rss20")
    [entry] = [e for e in parsed.entries if e.title == "Public post"]
    assert entry.id == f"tag:localhost,2025-03-04:post-{site['public'].id}"
    content = entry.content[0].value if "content" in entry else entry.summary
    assert 'href="http://localhost/blog/other"' in content and 'src="http://localhost/uploads/chart.png"' in content
    assert not any(post.title in response.text for post in site["hidden"].values())
    etag, modified = response.headers["ETag"], response.headers["Last-Modified"]
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304


def test_feeds_change_etag_when_a_post_changes(client, site):
    etag = client.get("/feed.atom").headers["ETag"]
    site["public"].title = "Renamed"
    db.session.commit()
    again = client.get("/feed.atom", headers={"If-None-Match": etag})
    assert again.status_code == 200 and "Renamed" in again.text


def test_unknown_author_feed_is_404(client):
    assert client.get("/user/nobody/feed.atom").status_code == 404


def head_of(html: str) -> str:
    return html.split("</head>")[0]


def meta(html: str, key: str) -> str | None:
    match = re.search(rf'<meta (?:name|property)="{re.escape(key)}" content="([^"]*)"', head_of(html))
    return match.group(1) if match else None


def json_lds(html: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r'<script type="application/ld\+json">(.*?)</script>', html)]


def test_post_head_has_description_cards_default_image_and_blog_posting(app, client, site):
    post = site["public"]
    html = client.get(f"/blog/{post.slug}").text
    assert '<link rel="canonical" href="http://localhost/blog/public-post' in html or f'href="http://localhost/blog/{post.slug}"' in html
    assert meta(html, "description") == "Read this and see."  # no summary: the first sentence
    assert meta(html, "og:image") == "http://localhost/site-image.png"
    # The default image's alt names the site (it once read ": ", the macro seeing no site name).
    site_alt = html_escape(f"{app.config['SITE_NAME']}: {app.config['SITE_DESCRIPTION']}")
    assert meta(html, "og:image:alt") == meta(html, "twitter:image:alt") == site_alt
    assert meta(client.get("/").text, "og:image:alt") == site_alt
    assert meta(html, "twitter:card") == "summary_large_image"
    assert meta(html, "twitter:image") == meta(html, "og:image")
    found = {data["@type"]: data for data in json_lds(html)}
    website, posting = found["WebSite"], found["BlogPosting"]
    assert website["@type"] == "WebSite" and website["potentialAction"]["@type"] == "SearchAction"
    assert "{search_term_string}" in website["potentialAction"]["target"]["urlTemplate"]
    assert posting["@type"] == "BlogPosting" and posting["headline"] == "Public post"
    assert posting["author"] == {"@type": "Person", "name": "ann", "url": "http://localhost/user/ann"}
    assert posting["datePublished"] == "2025-03-04T10:00:00Z" and posting["wordCount"] == 6
    assert posting["image"] == ["http://localhost/site-image.png"] and posting["keywords"] == ["postgres"]


def test_json_ld_cannot_be_broken_out_of(client, site):
    post = site["public"]
    post.title = "</script><script>alert(1)</script>"
    db.session.commit()
    html = client.get(f"/blog/{post.slug}").text
    assert "<script>alert" not in html
    [posting] = [data for data in json_lds(html) if data["@type"] == "BlogPosting"]
    assert posting["headline"] == post.title


def test_every_listing_has_cards_and_category_pages_have_breadcrumbs(client, site):
    for path in ("/", "/tag/postgres", "/archive/2025", "/user/ann", "/tags", "/search?q=x", "/archive", "/subscribe"):
        html = client.get(path).text
        assert meta(html, "og:image") and meta(html, "twitter:card") and meta(html, "description"), path
        assert '<link rel="canonical"' in html, path
    html = client.get("/category/sql").text
    crumbs = next(d for d in json_lds(html) if d["@type"] == "BreadcrumbList")
    assert [i["name"] for i in crumbs["itemListElement"]] == ["Home", "Databases", "SQL"]
    assert crumbs["itemListElement"][-1]["item"] == "http://localhost/category/sql"
    assert 'type="application/atom+xml" title="SQL (Atom)" href="/category/sql/feed.atom"' in html
    assert 'type="application/atom+xml" title="Inkwell (Atom)" href="/feed.atom"' in html


def test_configured_site_image_replaces_the_drawn_one(app, client, site):
    app.config["SITE_IMAGE"] = "https://cdn.example.com/card.png"
    assert meta(client.get("/").text, "og:image") == "https://cdn.example.com/card.png"


def test_default_site_image_is_a_1200_by_630_png_with_caching(client):
    response = client.get("/site-image.png")
    assert response.mimetype == "image/png"
    assert Image.open(io.BytesIO(response.data)).size == (1200, 630)
    assert client.get("/site-image.png", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_archive_index_lists_years_and_months_with_counts(client, site):
    make_post(title="Also March", published_at=datetime(2025, 3, 20, 10, 0))
    html = client.get("/archive").text
    assert re.search(r'href="/archive/2025">2025</a>\s*<span class="count">2 posts', html)
    assert re.search(r'href="/archive/2025/3">March 2025</a> <span class="count">2', html)
    assert 'href="/archive/2026/1">January 2026</a>' in html
    assert "draft" not in html


def test_archive_year_shows_month_headings_and_sidebar_links_the_index(client, site):
    make_post(title="In May", published_at=datetime(2025, 5, 1, 10, 0))
    html = client.get("/archive/2025").text
    assert html.index('<h2 class="month-heading">May 2025</h2>') < html.index("In May")
    assert html.index("In May") < html.index('<h2 class="month-heading">March 2025</h2>')
    assert 'href="/archive">Every year and month</a>' in client.get("/").text


def test_recalculate_views_recounts_from_the_day_rows_and_is_idempotent(app, client, runner):
    from blog.models import PostViewDay

    post = make_post(title="Read me")
    legacy = make_post(title="Counted before day rows", views=40)
    for _ in range(3):
        client.get(f"/blog/{post.slug}", headers={"User-Agent": "Mozilla/5.0 Firefox"})
    viewcounts.flush()  # reads are buffered; the periodic flush writes the totals and the day rows
    db.session.refresh(post)
    assert post.views == 3
    assert db.session.get(PostViewDay, (post.id, utcnow().date())).views == 3
    post.views = 999  # a counter gone wrong
    db.session.commit()
    result = runner.invoke(args=["recalculate-views"])
    assert result.exit_code == 0, result.output
    assert "1 posts changed" in result.output
    db.session.refresh(post)
    db.session.refresh(legacy)
    assert (post.views, legacy.views) == (3, 40)  # the legacy total is kept as a day row of its own
    assert "0 posts changed" in runner.invoke(args=["recalculate-views"]).output
    db.session.refresh(legacy)
    assert legacy.views == 40


def test_clear_cache_empties_the_shared_cache(app, runner):
    from blog.extensions import cache

    cache.set("something", 1)
    result = runner.invoke(args=["clear-cache"])
    assert result.exit_code == 0 and "Cache cleared." in result.output
    assert cache.get("something") is None
