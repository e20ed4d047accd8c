"""/admin/users (admins only): find people, change roles, deactivate, resend verification, delete."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from blog.extensions import db
from blog.models import Activity
from blog.models import ApiToken
from blog.models import Comment
from blog.models import MailMessage
from blog.models import Post
from blog.models import User
from blog.services import tokens
from blog.services import users
from blog.services.errors import NotAllowed
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user


@pytest.fixture
def site(app):
    admin = make_user(role="admin", username="root")
    moderator = make_user(role="moderator", username="mod")
    author = make_user(role="author", username="ana")
    reader = make_user(role="reader", username="rita")
    spammer = make_user(role="reader", username="spammy", email="spam@example.com")
    unverified = make_user(role="reader", username="newbie", email="newbie@example.com", email_confirmed=False)
    return {"admin": admin, "moderator": moderator, "author": author, "reader": reader, "spammer": spammer,
            "unverified": unverified}


def fresh(user_id: int) -> User | None:
    db.session.expire_all()
    return db.session.get(User, user_id)


ROUTES = [("get", "/admin/users"), ("post", "/admin/users/{id}/role"), ("post", "/admin/users/{id}/deactivate"),
          ("post", "/admin/users/{id}/reactivate"), ("post", "/admin/users/{id}/verification"),
          ("post", "/admin/users/{id}/delete")]


@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("role", ["reader", "author", "moderator"])
def test_only_admins_manage_users(client, site, method, path, role):
    login_as(client, site[role])
    response = getattr(client, method)(path.format(id=site["spammer"].id), data={"role": "admin"})
    assert response.status_code == 403
    assert fresh(site["spammer"].id).role == "reader" and fresh(site["spammer"].id).is_active


@pytest.mark.parametrize("method, path", ROUTES)
def test_guests_are_sent_to_log_in(client, site, method, path):
    response = getattr(client, method)(path.format(id=site["spammer"].id))
    assert response.status_code == 302


def test_search_and_filters(client, site):
    login_as(client, site["admin"])
    page = client.get("/admin/users?q=SPAM")
    assert "spammy" in page.text and "rita" not in page.text
    assert "spam@example.com" in client.get("/admin/users?q=spam%40example").text
    readers = client.get("/admin/users?role=reader").text
    assert "rita" in readers and ">ana<" not in readers
    unverified = client.get("/admin/users?verified=no").text
    assert "newbie" in unverified and "rita" not in unverified
    assert client.get("/admin/users?role=nonsense&active=maybe&page=zz").status_code == 200
    fragment = client.get("/admin/users?q=rita", headers=HX)
    assert "<html" not in fragment.text and 'id="people"' in fragment.text


def test_an_admin_makes_a_reader_an_author_and_deactivates_a_spammer(client, site, app):
    """The issue's story: both changes take effect at once and both appear in the activity log."""
    spammer_client = app.test_client()
    login_as(spammer_client, site["spammer"])
    assert spammer_client.get("/auth/profile").status_code == 200
    raw, _ = tokens.issue(site["spammer"])
    api = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/posts", headers=api).status_code == 200

    login_as(client, site["admin"])
    response = client.post(f"/admin/users/{site['reader'].id}/role", data={"role": "author"}, headers=HX)
    assert response.status_code == 200 and "rita is now an author." in response.text
    assert fresh(site["reader"].id).role == "author"
    response = client.post(f"/admin/users/{site['spammer'].id}/deactivate", headers=HX)
    assert response.status_code == 200 and "Deactivated spammy" in response.text
    assert not fresh(site["spammer"].id).is_active

    assert spammer_client.get("/auth/profile").status_code == 302  # their session ended
    assert client.get("/api/v1/posts", headers=api).status_code == 401  # and their token
    log = client.get("/admin/activity").text
    assert "Changed the role of" in log and "reader → author" in log and "Deactivated" in log


def test_deactivation_and_role_change_end_every_session_even_after_reactivation(client, site, app):
    """The old cookie stays dead: the session version moved, not only the active flag."""
    spammer_client, author_client = app.test_client(), app.test_client()
    login_as(spammer_client, site["spammer"])
    login_as(author_client, site["author"])
    assert spammer_client.get("/auth/profile").status_code == 200
    assert author_client.get("/auth/profile").status_code == 200

    login_as(client, site["admin"])
    client.post(f"/admin/users/{site['spammer'].id}/deactivate")
    client.post(f"/admin/users/{site['spammer'].id}/reactivate")
    client.post(f"/admin/users/{site['author'].id}/role", data={"role": "reader"})
    assert fresh(site["spammer"].id).is_active
    assert spammer_client.get("/auth/profile").status_code == 302
    assert author_client.get("/auth/profile").status_code == 302


def test_role_change_without_javascript_redirects_with_a_message(client, site):
    login_as(client, site["admin"])
    response = client.post(f"/admin/users/{site['reader'].id}/role", data={"role": "moderator", "next": "/admin/users?role=reader"})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/users?role=reader"
    assert "rita is now a moderator." in client.get("/admin/users").text


def test_a_role_change_revokes_api_tokens(client, site):
    raw, _ = tokens.issue(site["author"])
    login_as(client, site["admin"])
    client.post(f"/admin/users/{site['author'].id}/role", data={"role": "reader"})
    assert tokens.find(raw) is None


def test_nobody_demotes_or_deactivates_themselves_or_the_last_admin(client, site):
    login_as(client, site["admin"])
    response = client.post(f"/admin/users/{site['admin'].id}/role", data={"role": "reader"}, headers=HX)
    assert response.status_code == 403 and "yourself" in response.text
    response = client.post(f"/admin/users/{site['admin'].id}/deactivate", headers=HX)
    assert response.status_code == 403
    assert fresh(site["admin"].id).role == "admin" and fresh(site["admin"].id).is_active
    # With a second admin, the first may be demoted by the second.
    second = make_user(role="admin", username="root2")
    users.change_role(fresh(site["admin"].id), "reader", by=second)
    assert fresh(site["admin"].id).role == "reader"


def test_two_admins_demoting_each_other_leave_one_admin(app, site):
    """The second demotion sees the first (the admins' rows are read, and locked, in its transaction)."""
    from sqlalchemy import update

    second = make_user(role="admin", username="root2")
    first = fresh(site["admin"].id)
    second = db.session.get(User, second.id)
    # The other admin's demotion of ``second`` has landed, but ``second`` acts on what it loaded before.
    db.session.execute(update(User).where(User.id == second.id).values(role="reader")
                       .execution_options(synchronize_session=False))
    with pytest.raises(NotAllowed, match="last admin"):
        users.change_role(first, "author", by=second)
    db.session.rollback()


def test_reactivating(client, site):
    login_as(client, site["admin"])
    client.post(f"/admin/users/{site['spammer'].id}/deactivate")
    response = client.post(f"/admin/users/{site['spammer'].id}/reactivate", headers=HX)
    assert "Reactivated spammy." in response.text and fresh(site["spammer"].id).is_active


def test_resending_verification_mails_a_new_link(client, site):
    login_as(client, site["admin"])
    response = client.post(f"/admin/users/{site['unverified'].id}/verification", headers=HX)
    assert "Sent a new verification link to newbie@example.com." in response.text
    mail = db.session.scalar(select(MailMessage).where(MailMessage.recipient == "newbie@example.com"))
    assert mail.kind == "verify_email"
    response = client.post(f"/admin/users/{site['reader'].id}/verification", headers=HX)
    assert "has nothing to verify" in response.text


def test_deleting_a_user_reassigns_their_posts_and_keeps_comments_as_deleted_user(client, site):
    post = make_post(site["spammer"], title="Spam post", slug="spam-post")
    other = make_post(site["author"], slug="ana-post")
    comment = make_comment(other, author=site["spammer"], body="buy now")
    login_as(client, site["admin"])
    response = client.post(f"/admin/users/{site['spammer'].id}/delete",
                           data={"posts": "reassign", "reassign_to": "ana"}, headers=HX)
    assert response.status_code == 200 and "Deleted spammy; their 1 posts went to ana." in response.text
    assert fresh(site["spammer"].id) is None
    assert db.session.get(Post, post.id).author_id == site["author"].id
    assert db.session.get(Comment, comment.id).author_id is None
    assert "a deleted user" in client.get("/admin/comments?status=approved").text


def test_deleting_a_user_with_their_posts(client, site):
    post = make_post(site["spammer"], slug="spam-post")
    make_comment(post, body="on spam")
    login_as(client, site["admin"])
    response = client.post(f"/admin/users/{site['spammer'].id}/delete", data={"posts": "delete"})
    assert response.status_code == 303
    assert db.session.get(Post, post.id) is None and fresh(site["spammer"].id) is None
    assert db.session.scalar(select(Activity.detail).where(Activity.action == "user.deleted")) == "1 posts deleted"


def test_deleting_refuses_a_missing_heir_and_the_last_admin(client, site):
    login_as(client, site["admin"])
    response = client.post(f"/admin/users/{site['spammer'].id}/delete", data={"posts": "reassign", "reassign_to": "nobody"},
                           headers=HX)
    assert response.status_code == 422 and fresh(site["spammer"].id) is not None
    response = client.post(f"/admin/users/{site['admin'].id}/delete", data={"posts": "delete"}, headers=HX)
    assert response.status_code == 403 and fresh(site["admin"].id) is not None
    assert client.post("/admin/users/99999/role", data={"role": "author"}).status_code == 404


def test_bad_role_is_a_422_and_csrf_is_required(app, client, site):
    login_as(client, site["admin"])
    response = client.post(f"/admin/users/{site['reader'].id}/role", data={"role": "emperor"}, headers=HX)
    assert response.status_code == 422 and fresh(site["reader"].id).role == "reader"
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post(f"/admin/users/{site['reader'].id}/deactivate", headers=HX).status_code == 400
    assert client.post(f"/admin/users/{site['reader'].id}/role", data={"role": "author"}).status_code in (400, 422)
    assert fresh(site["reader"].id).role == "reader" and fresh(site["reader"].id).is_active


def _count(client, count_queries, url) -> int:
    db.session.expunge_all()
    with count_queries() as queries:
        assert client.get(url).status_code == 200
    return queries.count


def test_the_query_count_does_not_grow_with_the_number_of_users(client, site, count_queries):
    login_as(client, site["admin"])
    urls = ["/admin/users", "/admin/users?role=reader&q=user", "/admin/activity", "/admin/"]
    client.get(urls[0])  # warm the memoised header links (static pages), cached across requests
    small = [_count(client, count_queries, url) for url in urls]
    for n in range(40):
        user = make_user(role="reader")
        make_post(user)
    for target in db.session.scalars(select(User).where(User.role == "reader").limit(10)).all():
        client.post(f"/admin/users/{target.id}/role", data={"role": "author"})
    client.get(urls[0])  # a bulk change moves every generation, the menu's too: warm it again
    large = [_count(client, count_queries, url) for url in urls]
    assert small == large, (small, large)
