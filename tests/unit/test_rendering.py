"""The render helper: page or block, flashes out of band, Vary."""
from __future__ import annotations

import pytest
from flask import flash

from blog.rendering import redirect_to
from blog.rendering import render
from tests.conftest import HX


@pytest.fixture
def app(app, tmp_path):
    """A tiny page template with one block, and views that flash."""
    app.jinja_loader.searchpath.append(str(tmp_path))
    (tmp_path / "demo_page.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>Page</h1>'
        '{% block box %}<div id="box">{{ value }}</div>{% endblock %}{% endblock %}'
    )

    @app.get("/demo")
    def demo():
        flash("Saved.")
        return render("demo_page.html", block="box", value=42)

    @app.post("/demo-redirect")
    def demo_redirect():
        return redirect_to("/somewhere")

    return app


def test_full_page_shows_the_flash_in_place(client):
    html = client.get("/demo").text
    assert "<html" in html and '<div id="box">42</div>' in html
    assert '<p class="flash flash-message">Saved.</p>' in html
    assert 'hx-swap-oob' not in html


def test_fragment_carries_the_flash_out_of_band_once(client):
    response = client.get("/demo", headers=HX)
    html = response.text
    assert html.startswith('<div id="box">42</div>')
    assert '<div id="flashes" class="flashes wrap" role="status" aria-live="polite" hx-swap-oob="true">' in html
    assert "Saved." in html and "<html" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_redirect_is_303_for_forms_and_hx_redirect_for_htmx(client):
    plain = client.post("/demo-redirect")
    assert plain.status_code == 303 and plain.headers["Location"] == "/somewhere"
    swapped = client.post("/demo-redirect", headers=HX)
    assert swapped.status_code == 200 and swapped.headers["HX-Redirect"] == "/somewhere"


def test_a_block_only_template_renders_whole_without_vary(app):
    with app.test_request_context("/"):
        response = render("errors/error.html", code=404, title="t", message="m")
        assert "HX-Request" not in response.headers.get("Vary", "")
