"""HTTP caching: no cookie for guests, ETag/Last-Modified and 304s, Cache-Control, compressed assets."""
from __future__ import annotations

import gzip
import re

import brotli
import pytest
from flask import Flask

from blog.services import taxonomy
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_post
from tests.factories import make_user


@pytest.fixture(params=[False, True], ids=["rendered", "page-cache"])
def site(request, app: Flask):
    """A post in a category with a tag; every test runs with the page cache off and on."""
    app.config["PAGE_CACHE"] = request.param
    app.config["WTF_CSRF_ENABLED"] = True  # as in production: a form built for a guest would open a session
    category = taxonomy.create_category("Python")
    post = make_post(title="Caching", tags=["web"], category=category)
    return {"post": f"/blog/{post.slug}", "tag": "/tag/web", "category": f"/category/{category.slug}",
            "year": post.published_at.year}


def _guest_urls(site) -> list[str]:
    urls = ["/", site["post"], site["tag"], site["category"], f"/archive/{site['year']}", "/search?q=caching",
            "/tags", "/feed.xml", f"{site['tag']}/feed.xml", f"{site['category']}/feed.xml"]
    return urls


def test_guest_pages_set_no_cookie(site, app):
    for url in [*_guest_urls(site), "/sitemap.xml", "/feed.atom"]:
        guest = app.test_client()
        for headers in ({}, HX):
            response = guest.get(url, headers=headers)
            if url in ("/sitemap.xml", "/feed.atom") and response.status_code == 404:
                continue  # served by another branch once merged; checked there as well
            assert response.status_code == 200, url
            assert "Set-Cookie" not in response.headers, url
            assert 'name="csrf_token"' not in response.text and "X-CSRFToken" not in response.text, url


def test_signed_in_pages_carry_the_csrf_header_and_are_private(site, app, client):
    login_as(client, make_user())
    page = client.get(site["post"])
    assert "X-CSRFToken" in page.text
    assert page.headers["Cache-Control"] == "private, no-store"
    assert "ETag" not in page.headers


def test_guest_pages_are_public_for_shared_caches_briefly(site, client):
    for url in _guest_urls(site):
        response = client.get(url)
        cache_control = response.headers["Cache-Control"]
        assert cache_control.startswith("public, max-age=0, s-maxage="), url
        assert "stale-while-revalidate=" in cache_control
        assert {"Cookie", "Accept-Encoding"} <= {v.strip() for v in response.headers["Vary"].split(",")}


def test_etag_answers_304_to_if_none_match(site, client):
    for url in _guest_urls(site):
        for headers in ({}, HX):
            first = client.get(url, headers=headers)
            etag = first.headers["ETag"]
            again = client.get(url, headers={**headers, "If-None-Match": etag})
            assert again.status_code == 304 and again.data == b"", url
            assert again.headers["ETag"] == etag


def test_fragment_and_page_have_different_etags(site, client):
    assert client.get("/").headers["ETag"] != client.get("/", headers=HX).headers["ETag"]


def test_last_modified_answers_304_and_moves_on_a_change(site, client):
    first = client.get("/")
    stamp = first.headers["Last-Modified"]
    assert client.get("/", headers={"If-Modified-Since": stamp}).status_code == 304
    make_post(title="Newer")
    changed = client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and "Newer" in changed.text


def test_feeds_answer_conditional_requests(site, client):
    feed = client.get("/feed.xml")
    assert feed.mimetype == "application/rss+xml"
    assert client.get("/feed.xml", headers={"If-None-Match": feed.headers["ETag"]}).status_code == 304
    assert client.get("/feed.xml", headers={"If-Modified-Since": feed.headers["Last-Modified"]}).status_code == 304


def test_html_is_gzipped_for_clients_that_accept_it(site, client):
    plain = client.get("/")
    packed = client.get("/", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data).decode() == plain.text
    assert len(packed.data) < len(plain.data) / 2


def test_static_files_are_fingerprinted_immutable_and_precompressed(app, client):
    page = client.get("/").text
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert urls and all(re.search(r"\.[0-9a-f]{12}\.(css|js|svg)$", url) for url in urls), urls
    htmx_url = next(url for url in urls if "htmx" in url)
    plain = client.get(htmx_url)
    assert plain.headers["Cache-Control"] == "max-age=31536000, public, immutable"
    br = client.get(htmx_url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["Content-Encoding"] == "br" and brotli.decompress(br.data) == plain.data
    gz = client.get(htmx_url, headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip" and gzip.decompress(gz.data) == plain.data
    assert len(br.data) < 20_000
    etag = plain.headers["ETag"]
    assert client.get(htmx_url, headers={"If-None-Match": etag}).status_code == 304


def test_static_files_by_their_plain_name_still_work_briefly_cached(client):
    response = client.get("/static/css/site.css")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "max-age=60, public"


def test_a_changed_static_file_gets_a_new_name(tmp_path):
    from blog import assets

    source = tmp_path / "static"
    (source / "css").mkdir(parents=True)
    (source / "css" / "a.css").write_text("body{color:red}")
    _, first = assets.build(source, tmp_path / "instance")
    (source / "css" / "a.css").write_text("body{color:blue}")
    built, second = assets.build(source, tmp_path / "instance")
    assert first["css/a.css"] != second["css/a.css"]
    assert (built / second["css/a.css"]).read_text() == "body{color:blue}"
