"""/admin/redirects: admins list, find, add, re-point and delete the old addresses that answer 301."""
from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Redirect
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_post
from tests.factories import make_user


@pytest.fixture
def admin_client(app, client):
    login_as(client, make_user(role="admin", username="boss"))
    return client


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Redirect))


def add(old: str, target: str) -> Redirect:
    row = Redirect(old_path=old, target=target)
    db.session.add(row)
    db.session.commit()
    return row


def test_non_admins_get_403_and_guests_the_login_page(app, client):
    assert client.get("/admin/redirects").status_code in (302, 303)
    login_as(client, make_user(role="moderator"))
    assert client.get("/admin/redirects").status_code == 403
    assert client.post("/admin/redirects", data={"old_path": "/a", "target": "/b"}).status_code == 403
    assert count() == 0


def test_add_then_the_old_address_redirects(admin_client):
    post = make_post(title="Hello", slug="hello")
    response = admin_client.post("/admin/redirects", data={"old_path": "https://old.example/2019/05/hello/",
                                                           "target": "/blog/hello"})
    assert response.status_code == 303
    row = db.session.scalar(select(Redirect))
    assert row.old_path == "/2019/05/hello" and row.target == "/blog/hello"
    moved = admin_client.get("/2019/05/hello/")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/blog/hello")
    page = admin_client.get(response.headers["Location"]).text
    assert "/2019/05/hello now redirects to /blog/hello." in page and post.id


@pytest.mark.parametrize("old, target, field", [
    ("/old", "https://evil.example/", "target"),
    ("/old", "//evil.example/x", "target"),
    ("/old", "/\\evil.example", "target"),
    ("/old", "javascript:alert(1)", "target"),
    ("/old", "", "target"),
    ("/old", "/has space", "target"),
    ("/old", "/" + "x" * 600, "target"),
    ("/old", "/old/", "target"),  # a loop
    ("", "/blog/x", "old_path"),
    ("/", "/blog/x", "old_path"),
    ("/tags", "/blog/x", "old_path"),  # the site serves it
    ("no-slash", "/blog/x", "old_path"),
    ("/a%00b", "/blog/x", "old_path"),  # decodes to a NUL, which PostgreSQL cannot store or compare
])
def test_bad_addresses_are_a_form_error_and_nothing_is_saved(admin_client, old, target, field):
    response = admin_client.post("/admin/redirects", data={"old_path": old, "target": target})
    assert response.status_code == 422
    assert f'id="new-{field}-error"' in response.text and 'aria-invalid="true"' in response.text
    assert count() == 0


def test_a_duplicate_old_address_is_refused(admin_client):
    add("/old", "/blog/a")
    response = admin_client.post("/admin/redirects", data={"old_path": "/old/", "target": "/blog/b"})
    assert response.status_code == 422 and "already redirects" in response.text
    assert db.session.scalar(select(Redirect.target)) == "/blog/a"


def test_a_two_step_loop_is_refused(admin_client):
    add("/a", "/b")
    response = admin_client.post("/admin/redirects", data={"old_path": "/b", "target": "/a"})
    assert response.status_code == 422 and "redirects back here" in response.text and count() == 1


def test_edit_and_delete(admin_client):
    row = add("/old", "/blog/a")
    edited = admin_client.post(f"/admin/redirects/{row.id}", data={"target": "/blog/b", "q": "ol", "page": "1"})
    assert edited.status_code == 303 and edited.headers["Location"].endswith("/admin/redirects?q=ol")
    db.session.refresh(row)
    assert row.target == "/blog/b"
    bad = admin_client.post(f"/admin/redirects/{row.id}", data={"target": "https://x.example"})
    assert bad.status_code == 422 and f'id="redirect-{row.id}-error"' in bad.text
    db.session.refresh(row)
    assert row.target == "/blog/b"
    assert admin_client.post("/admin/redirects/999999", data={"target": "/x"}).status_code == 404
    gone = admin_client.post(f"/admin/redirects/{row.id}/delete", data={})
    assert gone.status_code == 303 and count() == 0
    assert admin_client.get("/old").status_code == 404


def test_writes_need_the_csrf_token(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    login_as(client, make_user(role="admin"))
    row = add("/old", "/blog/a")
    assert client.post("/admin/redirects", data={"old_path": "/x", "target": "/y"}).status_code == 400
    assert client.post(f"/admin/redirects/{row.id}/delete").status_code == 400
    assert count() == 1


def test_list_searches_and_pages_in_a_constant_number_of_queries(admin_client, count_queries):
    db.session.add_all([Redirect(old_path=f"/2019/{n:03d}/post", target=f"/blog/p{n}") for n in range(120)])
    db.session.add(Redirect(old_path="/tag/kiwi", target="/tag/kiwi-fruit"))
    db.session.commit()
    first = admin_client.get("/admin/redirects").text
    assert "121 redirects" in first and "page 1 of 3" in first and 'href="/admin/redirects?page=2"' in first
    found = admin_client.get("/admin/redirects?q=kiwi")
    assert "1 redirect whose old address contains “kiwi”" in found.text and "/2019/001/post" not in found.text
    fragment = admin_client.get("/admin/redirects?q=kiwi&page=1", headers=HX)
    assert "<html" not in fragment.text and 'id="redirect-list"' in fragment.text
    assert "No redirect" in admin_client.get("/admin/redirects?q=%25").text  # LIKE wildcards are literal
    with count_queries() as small:
        admin_client.get("/admin/redirects?page=2")
    db.session.add_all([Redirect(old_path=f"/2020/{n:03d}/post", target=f"/blog/q{n}") for n in range(200)])
    db.session.commit()
    with count_queries() as large:
        admin_client.get("/admin/redirects?page=5")
    assert large.count == small.count


@pytest.mark.parametrize("path", ["/%00", "/a%00b", "/a%2500b", "/%2500?x=1"])
def test_an_encoded_nul_in_an_old_address_is_a_404_not_a_500(client, path):
    assert client.get(path).status_code == 404
