"""The render helper: page or block, flashes out of band, Vary."""
from __future__ import annotations

import functools

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


def test_remembered_urls_are_the_ones_flask_builds(app):
    """App.url_for answers repeats from its memo: the same URL Flask's own builder gives, per
    script root and argument order, and everything it must not remember still built fresh."""
    from flask import Flask
    from werkzeug.routing import BuildError

    def built(*args, **kwargs):
        return Flask.url_for(app, *args, **kwargs)

    cases = [("main.index", {}), ("posts.detail", {"slug": "a-b"}), ("main.search", {"q": "x", "page": 2}),
             ("main.search", {"page": 2, "q": "x"}), ("static", {"filename": "css/site.css"}),
             ("main.archive", {"year": 2026})]
    for root in ("", "/blog-root"):
        with app.test_request_context("/", environ_overrides={"SCRIPT_NAME": root}):
            for _ in range(2):  # the second time from the memo
                for endpoint, values in cases:
                    assert app.url_for(endpoint, **values) == built(endpoint, **values)
            assert app.url_for("main.search", q="x", page=2) != app.url_for("main.search", page=2, q="x")
            assert app.url_for("posts.detail", slug="a-b").startswith(root + "/blog/")
            assert app.url_for("main.index", _external=True) == built("main.index", _external=True)
            assert app.url_for("main.index", _anchor="top").endswith("/#top")
            assert app.url_for("main.search", tags=["a", "b"]) == built("main.search", tags=["a", "b"])
            with pytest.raises(BuildError):
                app.url_for("no.such_endpoint")
    with app.app_context(), pytest.raises(RuntimeError):  # outside a request, as Flask: no SERVER_NAME here
        app.url_for("main.index")


def test_every_template_global_exists_before_the_first_template_loads(app, client):
    # Templates keep a snapshot of the environment's globals (rendering._Environment): one added
    # once a template has loaded would be missing from it, so none may be added by a request.
    before = dict(app.jinja_env.globals)
    assert client.get("/").status_code == 200 and client.get("/demo").status_code == 200
    assert app.jinja_env.globals == before
    loaded = app.jinja_env.get_template("base.html")
    assert loaded.globals.keys() >= before.keys() and type(loaded.globals) is dict


def test_ensure_sync_remembers_plain_functions_and_still_wraps_coroutines(app):
    def view():
        return "plain"

    assert app.ensure_sync(view) is view and app.ensure_sync(view) is view

    async def coroutine():
        return "async"

    for _ in range(2):  # asked again, never remembered as plain: Flask wraps it (or says asgiref is missing)
        try:
            wrapped = app.ensure_sync(coroutine)
        except RuntimeError as error:
            assert "async" in str(error)
        else:
            assert wrapped is not coroutine


def test_templates_call_plain_functions_directly_and_context_functions_jinjas_way(app):
    from jinja2 import pass_context
    from jinja2 import pass_environment

    class Greeter:
        def hello(self, name):
            return f"hello {name}"

        @pass_context
        def where(self, context):
            return context.get("place")

    def stop():
        raise StopIteration

    @functools.cache
    def cached(name):
        return name[::-1]

    template = app.jinja_env.from_string(
        "{% macro twice(x, sep='') %}{{ x }}{{ sep }}{{ x }}{% endmacro %}"
        "{% macro wrap() %}<{{ caller() }}>{% endmacro %}"
        "{% for name in names %}{{ greeter.hello(name) }} {{ shout(name) }} {{ twice(name, sep='-') }} "
        "{{ here() }} {{ greeter.where() }} {{ env_name() }} {{ cached(name) }} "
        "{% call wrap() %}{{ twice(name) }}{% endcall %}|{% endfor %}[{{ stop() }}]")
    with app.test_request_context("/"):
        html = template.render(
            names=["ann"], greeter=Greeter(), shout=lambda name: name.upper(), place="the loop",
            here=pass_context(lambda context: context["place"]), cached=cached,
            env_name=pass_environment(lambda environment: type(environment).__name__), stop=stop)
    assert html == "hello ann ANN ann-ann the loop the loop _Environment nna <annann>|[]"


def test_vary_adds_each_header_once_whatever_its_case():
    from flask import Response

    from blog.rendering import vary

    response = Response("x")
    vary(response, "HX-Request", "Cookie")
    assert response.headers["Vary"] == "HX-Request, Cookie"
    vary(response, "cookie", "Accept-Encoding", "Accept-Encoding")
    assert response.headers["Vary"] == "HX-Request, Cookie, Accept-Encoding"
    vary(response)
    assert response.headers.getlist("Vary") == ["HX-Request, Cookie, Accept-Encoding"]
