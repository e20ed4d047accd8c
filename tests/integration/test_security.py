"""Security headers, no inline script, CSRF on state changes (htmx too)."""
from __future__ import annotations

import re

import pytest

from blog.security import CSP
from tests.factories import make_post


@pytest.fixture
def pages(client):
    post = make_post(title="Hello")
    return ["/", f"/blog/{post.slug}", "/?page=99", "/blog/missing"]


def test_every_html_page_carries_the_strict_csp_and_friends(client, pages):
    for url in pages:
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert csp == CSP
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in headers  # only in production, behind HTTPS


def test_templates_have_no_inline_scripts_styles_or_event_handlers(client, pages):
    for url in pages:
        html = client.get(url).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            # JSON-LD is data the browser never runs; everything else loads from our origin.
            assert "src=" in tag or tag == '<script type="application/ld+json">', tag
        assert not re.search(r"<script\b(?![^>]*type=\"application/ld\+json\")[^>]*>\s*[^<\s]", html), "inline script body"
        assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
        assert not re.search(r"\sstyle\s*=", html), "inline style attribute"
        assert "<style" not in html
        assert "hx-on" not in html


def test_htmx_is_vendored_and_configured_without_eval(client):
    html = client.get("/").text
    src = re.search(r'<script src="(/static/vendor/htmx\.min\.[0-9a-f]{12}\.js)" defer></script>', html).group(1)
    assert '"allowEval":false' in html and '"includeIndicatorStyles":false' in html
    assert client.get(src).status_code == 200  # fingerprinted (blog/assets.py)
    assert client.get("/static/vendor/htmx.min.js").status_code == 200


def test_production_sends_hsts(client, app):
    app.config["HSTS"] = True
    assert "max-age=" in client.get("/").headers["Strict-Transport-Security"]


@pytest.fixture
def csrf_app(app):
    """CSRF switched on, as in production, with a state-changing route."""
    app.config["WTF_CSRF_ENABLED"] = True

    @app.post("/change")
    def change():
        return "changed"

    return app


def test_posts_without_a_csrf_token_are_refused(csrf_app):
    client = csrf_app.test_client()
    response = client.post("/change")
    assert response.status_code == 400
    assert "Bad request" in response.text


def test_htmx_requests_carry_the_token_from_the_body_hx_headers(csrf_app):
    from tests.factories import login_as
    from tests.factories import make_user

    client = csrf_app.test_client()
    login_as(client, make_user())  # signed-in visitors only: guests' pages carry no token (no cookie)
    page = client.get("/").text
    token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    assert client.post("/change", headers={"X-CSRFToken": token, "HX-Request": "true"}).text == "changed"
    assert client.post("/change", headers={"X-CSRFToken": "forged", "HX-Request": "true"}).status_code == 400
