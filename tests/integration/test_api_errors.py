"""The API's error contract and its rate limit: always {error, message, status}, never a page, never a 500."""
from __future__ import annotations

import pytest

from blog.services import tokens
from tests.factories import make_post
from tests.factories import make_user

API = "/api/v1"


def bearer(user) -> dict[str, str]:
    raw, _ = tokens.issue(user)
    return {"Authorization": f"Bearer {raw}"}


def test_an_unknown_api_address_is_a_json_404(client):
    response = client.get(f"{API}/nothing/here")
    assert response.status_code == 404 and response.is_json
    assert set(response.get_json()) == {"error", "message", "status"}
    assert response.get_json()["error"] == "Not Found"


def test_a_wrong_method_is_a_json_405_with_allow(client):
    response = client.post(f"{API}/users/ada", json={})
    assert response.status_code == 405 and response.get_json()["status"] == 405
    assert "GET" in response.headers["Allow"]


def test_the_rate_limit_is_100_an_hour_per_token_with_headers(client):
    user = make_user()
    mine, theirs = bearer(user), bearer(make_user())
    first = client.get(f"{API}/posts", headers=mine)
    assert first.headers["X-RateLimit-Limit"] == "100"
    assert first.headers["X-RateLimit-Remaining"] == "99"
    assert int(first.headers["X-RateLimit-Reset"]) > 0
    for _ in range(99):
        assert client.get(f"{API}/posts", headers=mine).status_code == 200
    limited = client.get(f"{API}/posts", headers=mine)
    assert limited.status_code == 429 and limited.is_json
    assert limited.get_json()["status"] == 429 and "100 requests an hour" in limited.get_json()["message"]
    assert int(limited.headers["Retry-After"]) > 0 and limited.headers["X-RateLimit-Remaining"] == "0"
    # One bucket for the whole API, and one per token.
    assert client.post(f"{API}/posts", headers=mine, json={"title": "T", "body": "B"}).status_code == 429
    assert client.get(f"{API}/posts", headers=theirs).status_code == 200


def test_guests_are_limited_per_address(client):
    for _ in range(100):
        client.get(f"{API}/posts")
    assert client.get(f"{API}/posts").status_code == 429
    assert client.get(f"{API}/posts", environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200


def test_the_openapi_document_is_not_rate_limited(client):
    for _ in range(101):
        client.get(f"{API}/posts")
    assert client.get(f"{API}/openapi.json").status_code == 200


@pytest.mark.parametrize("path", [
    "/posts?per_page=99999999999999999999999999", "/posts?q=%22unbalanced", "/posts?q=-", "/posts?q=a%00",
    "/posts/%F0%9F%90%8D", "/users/%F0%9F%90%8D", "/posts/" + "x" * 5000, "/posts?tag=" + "y" * 5000,
])
def test_odd_requests_are_answered_without_a_server_error(client, path):
    make_post()
    response = client.get(API + path)
    assert response.status_code < 500 and response.is_json


@pytest.mark.parametrize("payload", [
    {"title": "T", "body": "B", "published_at": "9999-12-31T23:59:59-05:00", "status": "scheduled"},
    {"title": "T", "body": "B", "published_at": "0001-01-01T00:00:00+05:00", "status": "scheduled"},
    {"title": "T", "body": "B", "tags": ["\ud800"]},
    {"title": "\udfff", "body": "B"},
    {"title": "T" * 1000, "body": "B" * 100_001},
    {"title": 1e308, "body": 10**400},
    {"title": "T", "body": "B", "category": "x\x00"},
])
def test_odd_bodies_are_answered_without_a_server_error(client, payload):
    import json

    data = json.dumps(payload)  # lone surrogates are sent as \\u escapes, as a client could
    response = client.post(f"{API}/posts", headers=bearer(make_user()), data=data, content_type="application/json")
    assert 400 <= response.status_code < 500 and response.is_json
