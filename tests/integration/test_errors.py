"""Errors: friendly pages for browsers, fragments for htmx, the JSON shape under /api/."""
from __future__ import annotations

import pytest
from flask import abort
from flask import request

from blog.services.errors import NotAllowed
from tests.conftest import HX

CODES = [400, 403, 404, 405, 413, 429, 500]


@pytest.fixture
def app(app):
    """The test app plus routes that fail on purpose."""

    @app.route("/boom/<int:code>", methods=["GET", "POST"])
    @app.route("/api/v1/boom/<int:code>", methods=["GET", "POST"])
    def boom(code: int):
        if code == 500:
            raise RuntimeError("secret internal detail")
        abort(code)

    @app.route("/forbidden-by-service")
    @app.route("/api/v1/forbidden-by-service")
    def forbidden_by_service():
        raise NotAllowed("You can only edit your own posts.")

    @app.post("/echo")
    def echo():
        return str(len(request.form.get("x", "")))

    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


@pytest.mark.parametrize("code", CODES)
def test_browsers_get_a_friendly_full_page(client, code):
    response = client.get(f"/boom/{code}")
    assert response.status_code == code
    assert response.text.lstrip().startswith("<!doctype html>")
    assert f'<p class="error-code">{code}</p>' in response.text
    assert "Traceback" not in response.text and "secret internal detail" not in response.text


@pytest.mark.parametrize("code", CODES)
def test_htmx_gets_the_error_fragment_retargeted_to_main(client, code):
    response = client.get(f"/boom/{code}", headers=HX)
    assert response.status_code == code
    assert "<html" not in response.text
    assert 'class="error-page"' in response.text
    assert response.headers["HX-Retarget"] == "#main"


@pytest.mark.parametrize("code", CODES)
def test_api_gets_the_json_error_shape(client, code):
    response = client.get(f"/api/v1/boom/{code}")
    assert response.status_code == code
    assert response.is_json
    body = response.get_json()
    assert body["status"] == code and body["error"] and body["message"]
    assert set(body) == {"error", "message", "status"}
    assert "secret internal detail" not in response.text


def test_unknown_api_url_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not Found"


def test_405_lists_allowed_methods(client):
    response = client.delete("/")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_body_over_the_limit_is_413(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/echo", data={"x": "y" * 5000})
    assert response.status_code == 413
    assert "Too large" in response.text
    assert client.post("/echo", data={"x": "y" * 10}).text == "10"


def test_service_errors_map_to_their_status_with_the_message(client):
    page = client.get("/forbidden-by-service")
    assert page.status_code == 403 and "You can only edit your own posts." in page.text
    api = client.get("/api/v1/forbidden-by-service")
    assert api.status_code == 403
    assert api.get_json() == {"error": "Forbidden", "message": "You can only edit your own posts.", "status": 403}


def test_500_is_logged_with_the_traceback(client, caplog):
    client.get("/boom/500")
    assert any("Unhandled exception" in r.message and r.exc_info for r in caplog.records)


def test_every_response_has_a_request_id(client):
    response = client.get("/", headers={"X-Request-ID": "abc123"})
    assert response.headers["X-Request-ID"] == "abc123"
    generated = client.get("/", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert generated.isalnum() and len(generated) == 32


def test_rate_limited_route_answers_429_with_retry_after(app):
    from blog.extensions import limiter

    @app.get("/limited")
    @limiter.limit("2/minute")
    def limited():
        return "ok"

    @app.get("/api/v1/limited")
    @limiter.limit("1/minute")
    def limited_api():
        return {"ok": True}

    client = app.test_client()
    assert [client.get("/limited").status_code for _ in range(3)] == [200, 200, 429]
    blocked = client.get("/limited")
    assert blocked.status_code == 429 and "Slow down" in blocked.text
    assert int(blocked.headers["Retry-After"]) > 0
    client.get("/api/v1/limited")
    api = client.get("/api/v1/limited")
    assert api.status_code == 429 and api.get_json()["status"] == 429
    assert int(api.headers["Retry-After"]) > 0
