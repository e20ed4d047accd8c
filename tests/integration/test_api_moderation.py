"""The API for running the blog (issue 13): users for admins, the comment queue, pending posts."""
from __future__ import annotations

import pytest

from blog.extensions import db
from blog.models import Activity
from blog.models import Comment
from blog.models import User
from blog.services import tokens
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user

API = "/api/v1"


@pytest.fixture
def site(app):
    people = {role: make_user(role=role, username=role) for role in ("reader", "author", "moderator", "admin")}
    other = make_user(role="author", username="other")
    mine = make_post(people["author"], title="Mine", slug="mine")
    theirs = make_post(other, title="Theirs", slug="theirs")
    make_post(people["reader"], title="Please review", slug="please-review", status="pending")
    return {**people, "other": other, "mine": mine, "theirs": theirs,
            "on_mine": make_comment(mine, author=people["reader"], status="pending", body="on mine"),
            "on_theirs": make_comment(theirs, author=people["reader"], status="pending", body="on theirs")}


def bearer(user: User) -> dict:
    return {"Authorization": f"Bearer {tokens.issue(user)[0]}"}


@pytest.mark.parametrize("role, status", [("reader", 403), ("author", 403), ("moderator", 403), ("admin", 200)])
def test_only_admins_list_users(client, site, role, status):
    response = client.get(f"{API}/users", headers=bearer(site[role]))
    assert response.status_code == status
    assert response.get_json()["status" if status != 200 else "total"] == (status if status != 200 else 5)


@pytest.mark.parametrize("role, status", [("reader", 403), ("author", 403), ("moderator", 403), ("admin", 200)])
def test_only_admins_change_users(client, site, role, status):
    response = client.patch(f"{API}/users/other", headers=bearer(site[role]), json={"role": "reader"})
    assert response.status_code == status
    db.session.expire_all()
    assert db.session.get(User, site["other"].id).role == ("reader" if status == 200 else "author")


def test_user_list_filters_and_paging(client, site):
    auth = bearer(site["admin"])
    found = client.get(f"{API}/users?role=author&per_page=1&page=2", headers=auth).get_json()
    assert found["total"] == 2 and found["pages"] == 2 and len(found["items"]) == 1
    assert {u["username"] for u in client.get(f"{API}/users?q=OTH", headers=auth).get_json()["items"]} == {"other"}
    assert client.get(f"{API}/users?active=maybe", headers=auth).status_code == 422
    item = client.get(f"{API}/users?q=other", headers=auth).get_json()["items"][0]
    assert item["email"] == site["other"].email and item["active"] is True and item["post_count"] == 1


def test_deactivating_over_the_api_ends_the_users_token_at_once(client, site):
    victim = bearer(site["other"])
    assert client.get(f"{API}/comments", headers=victim).status_code == 200
    response = client.patch(f"{API}/users/other", headers=bearer(site["admin"]), json={"active": False})
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert client.get(f"{API}/comments", headers=victim).status_code == 401
    assert db.session.query(Activity).filter_by(action="user.deactivated").count() == 1


def test_patching_users_refuses_bad_input_and_the_rules(client, site):
    auth = bearer(site["admin"])
    assert client.patch(f"{API}/users/other", headers=auth, json={"role": "king"}).status_code == 422
    assert client.patch(f"{API}/users/other", headers=auth, json={"active": "no"}).status_code == 422
    assert client.patch(f"{API}/users/other", headers=auth, json={"email": "x@y.z"}).status_code == 422
    assert client.patch(f"{API}/users/nobody", headers=auth, json={"role": "reader"}).status_code == 404
    response = client.patch(f"{API}/users/admin", headers=auth, json={"role": "reader"})
    assert response.status_code == 403 and "yourself" in response.get_json()["message"]


@pytest.mark.parametrize("role, seen", [("author", {"on mine"}), ("moderator", {"on mine", "on theirs"}),
                                        ("admin", {"on mine", "on theirs"})])
def test_the_comment_queue_per_role(client, site, role, seen):
    response = client.get(f"{API}/comments?status=pending", headers=bearer(site[role]))
    assert response.status_code == 200
    assert {c["body"] for c in response.get_json()["items"]} == seen


def test_readers_and_guests_get_no_queue(client, site):
    assert client.get(f"{API}/comments", headers=bearer(site["reader"])).status_code == 403
    assert client.get(f"{API}/comments").status_code == 401
    assert client.patch(f"{API}/comments/{site['on_mine'].id}", json={"status": "approved"}).status_code == 401


def test_a_posts_author_moderates_its_comments_but_no_one_elses(client, site):
    auth = bearer(site["author"])
    response = client.patch(f"{API}/comments/{site['on_mine'].id}", headers=auth, json={"status": "approved"})
    assert response.status_code == 200 and response.get_json()["status"] == "approved"
    response = client.patch(f"{API}/comments/{site['on_theirs'].id}", headers=auth, json={"status": "approved"})
    assert response.status_code == 403
    assert db.session.get(Comment, site["on_theirs"].id).status == "pending"


def test_patching_a_comment_checks_its_input(client, site):
    auth = bearer(site["moderator"])
    url = f"{API}/comments/{site['on_mine'].id}"
    assert client.patch(url, headers=auth, json={"status": "pending"}).status_code == 422
    assert client.patch(url, headers=auth, json={"status": "spam", "body": "x"}).status_code == 422
    assert client.patch(f"{API}/comments/abc", headers=auth, json={"status": "spam"}).status_code == 404
    assert client.patch(f"{API}/comments/99999999999999999999", headers=auth, json={"status": "spam"}).status_code == 404
    first = client.patch(url, headers=auth, json={"status": "spam"})
    again = client.patch(url, headers=auth, json={"status": "spam"})
    assert first.status_code == again.status_code == 200 and again.get_json()["status"] == "spam"


@pytest.mark.parametrize("role, status", [("reader", 403), ("author", 403), ("moderator", 200), ("admin", 200)])
def test_pending_posts_are_for_moderators(client, site, role, status):
    response = client.get(f"{API}/posts?status=pending", headers=bearer(site[role]))
    assert response.status_code == status
    if status == 200:
        assert [p["slug"] for p in response.get_json()["items"]] == ["please-review"]


def test_pending_posts_without_a_token_or_with_search(client, site):
    assert client.get(f"{API}/posts?status=pending").status_code == 401
    assert client.get(f"{API}/posts?status=pending&q=x", headers=bearer(site["moderator"])).status_code == 422
    assert client.get(f"{API}/posts?status=published").status_code == 200


def test_list_query_counts_stay_constant(client, site, count_queries):
    admin = bearer(site["admin"])
    urls = [f"{API}/users", f"{API}/comments?status=pending", f"{API}/posts?status=pending"]

    def measure() -> list[int]:
        counts = []
        for url in urls:
            db.session.expunge_all()
            with count_queries() as queries:
                assert client.get(url, headers=admin).status_code == 200
            counts.append(queries.count)
        return counts

    client.get(f"{API}/users", headers=admin)  # the token's first use writes last_used_at once
    small = measure()
    for n in range(30):
        writer = make_user(role="reader")
        post = make_post(writer, status="pending", tags=["t"])
        make_comment(make_post(writer), author=writer, status="pending")
        del post
    assert measure() == small
