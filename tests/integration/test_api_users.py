"""Public profiles over the API."""
from __future__ import annotations

from blog.extensions import db
from blog.services import tokens
from tests.factories import make_post
from tests.factories import make_user

API = "/api/v1"


def test_a_public_profile(client):
    user = make_user(username="ada", role="author", bio="Engines.",
                     social_links={"website": "https://ada.example.com", "github": "javascript:alert(1)"})
    make_post(user)
    make_post(user, status="draft")
    response = client.get(f"{API}/users/ada")
    assert response.status_code == 200 and response.headers["ETag"]
    body = response.get_json()
    assert body == {
        "username": "ada", "url": "http://localhost/user/ada", "role": "author", "bio": "Engines.",
        "links": {"website": "https://ada.example.com"}, "avatar": None, "post_count": 1,
        "created_at": user.created_at.replace(microsecond=0).isoformat() + "Z"}
    assert "email" not in response.get_data(as_text=True)


def test_an_unknown_or_deactivated_user_is_404(client):
    make_user(username="gone", is_active=False)
    for name in ("nobody", "gone", "a%00b"):
        response = client.get(f"{API}/users/{name}")
        assert response.status_code == 404
        assert set(response.get_json()) == {"error", "message", "status"}


def test_a_profile_answers_304_and_a_bad_token_401(client):
    make_user(username="ada")
    etag = client.get(f"{API}/users/ada").headers["ETag"]
    assert client.get(f"{API}/users/ada", headers={"If-None-Match": etag}).status_code == 304
    assert client.get(f"{API}/users/ada", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_token_may_read_profiles(client):
    raw, _ = tokens.issue(make_user(username="ada"))
    assert client.get(f"{API}/users/ada", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    db.session.commit()
