"""The authorization and method matrix, generated from ``app.url_map``.

Every rule must have a decision in ROUTES (who may call it, with which methods); a new route
without one fails ``test_every_route_has_a_decision``. For every rule and method, each of guest,
unverified reader, reader, author, moderator and admin must get the documented answer: allowed
(no 401/403, no bounce to the login page, never 5xx) or refused (login redirect / 401 for guests,
403 for the signed-in who may not). Every web state change is POST-only and refuses a request
without a CSRF token.
"""
from __future__ import annotations

import pytest
from flask import Flask

from blog.extensions import db
from blog.models import Category
from blog.services import tokens
from tests.conftest import Client
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user

ROLES = ("guest", "unverified", "reader", "author", "moderator", "admin")

#: Who may call a route. Resources in the world belong to "author" (post) and "reader" (comment).
ACCESS: dict[str, frozenset[str]] = {
    "public": frozenset(ROLES),
    "login": frozenset(ROLES) - {"guest"},
    "verified": frozenset({"reader", "author", "moderator", "admin"}),
    "author": frozenset({"author", "moderator", "admin"}),  # role_required("author"), or the post's owner
    "moderator": frozenset({"moderator", "admin"}),
    "admin": frozenset({"admin"}),
    # The comment's writer ("reader"), the post's author ("author"), or moderators.
    "comment-owner": frozenset({"reader", "author", "moderator", "admin"}),
}

_ALL_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
#: Catch-all routes exempt from "web state changes are POST only" (they change nothing).
CATCH_ALL = {"pages.page", "pages.old_address"}

#: endpoint -> (methods, access). Signed-link routes are public: the token in the URL decides.
ROUTES: dict[str, tuple[frozenset[str], str]] = {
    "static": (frozenset({"GET"}), "public"),
    "main.index": (frozenset({"GET"}), "public"),
    "main.archive": (frozenset({"GET"}), "public"),
    "main.category": (frozenset({"GET"}), "public"),
    "main.category_feed": (frozenset({"GET"}), "public"),
    "main.tag": (frozenset({"GET"}), "public"),
    "main.tag_feed": (frozenset({"GET"}), "public"),
    "main.tags": (frozenset({"GET"}), "public"),
    "main.feed": (frozenset({"GET"}), "public"),
    "main.favicon": (frozenset({"GET"}), "public"),
    "main.healthz": (frozenset({"GET"}), "public"),
    "main.search": (frozenset({"GET"}), "public"),
    "main.upload": (frozenset({"GET"}), "public"),
    "main.atom_feed": (frozenset({"GET"}), "public"),
    "main.category_atom": (frozenset({"GET"}), "public"),
    "main.tag_atom": (frozenset({"GET"}), "public"),
    "main.author_feed": (frozenset({"GET"}), "public"),
    "main.author_atom": (frozenset({"GET"}), "public"),
    "main.sitemap": (frozenset({"GET"}), "public"),
    "main.sitemap_part": (frozenset({"GET"}), "public"),
    "main.robots": (frozenset({"GET"}), "public"),
    "main.archive_index": (frozenset({"GET"}), "public"),
    "main.site_image": (frozenset({"GET"}), "public"),
    "subscriptions.subscribe_page": (frozenset({"GET"}), "public"),
    "subscriptions.subscribe": (frozenset({"POST"}), "public"),
    "subscriptions.confirm": (frozenset({"GET", "POST"}), "public"),
    "subscriptions.unsubscribe": (frozenset({"GET", "POST"}), "public"),
    "subscriptions.mine": (frozenset({"GET"}), "login"),
    "subscriptions.change": (frozenset({"POST"}), "login"),  # one's own only: others' are 404
    "subscriptions.cancel": (frozenset({"POST"}), "login"),
    # Catch-alls below every site route: a static page, or an old (imported) address's redirect.
    # They take every method so that a wrong method on a site path still answers 405, not 404.
    "pages.page": (_ALL_METHODS, "public"),
    "pages.old_address": (_ALL_METHODS, "public"),
    "users.profile": (frozenset({"GET"}), "public"),
    "posts.detail": (frozenset({"GET"}), "public"),
    "posts.create": (frozenset({"GET", "POST"}), "verified"),
    "posts.edit": (frozenset({"GET", "POST"}), "author"),
    "posts.delete": (frozenset({"POST"}), "author"),
    "posts.preview": (frozenset({"POST"}), "verified"),
    "posts.tag_suggestions": (frozenset({"GET"}), "verified"),
    # The writer's own images: everyone who may write; each sees and deletes only their own (404 else).
    "media.library": (frozenset({"GET"}), "verified"),
    "media.upload": (frozenset({"POST"}), "verified"),
    "media.delete": (frozenset({"POST"}), "verified"),
    "posts.autosave_new": (frozenset({"POST"}), "verified"),  # creates the writer's own draft
    "posts.autosave": (frozenset({"POST"}), "author"),
    "posts.revision_list": (frozenset({"GET"}), "author"),
    "posts.restore_revision": (frozenset({"POST"}), "author"),
    "comments.thread": (frozenset({"GET"}), "public"),
    "comments.count": (frozenset({"GET"}), "public"),
    "comments.permalink": (frozenset({"GET"}), "public"),
    "comments.create": (frozenset({"POST"}), "verified"),
    "comments.reply_form": (frozenset({"GET"}), "verified"),
    "comments.moderate": (frozenset({"POST"}), "author"),
    "comments.delete": (frozenset({"POST"}), "comment-owner"),
    "auth.register": (frozenset({"GET", "POST"}), "public"),
    "auth.check": (frozenset({"GET"}), "public"),
    "auth.login": (frozenset({"GET", "POST"}), "public"),
    "auth.logout": (frozenset({"POST"}), "public"),  # a guest's logout is a harmless no-op
    "auth.verify": (frozenset({"GET"}), "public"),
    "auth.resend_verification": (frozenset({"POST"}), "login"),
    "auth.reset_request": (frozenset({"GET", "POST"}), "public"),
    "auth.reset": (frozenset({"GET", "POST"}), "public"),
    "auth.profile": (frozenset({"GET", "POST"}), "login"),
    "auth.password": (frozenset({"POST"}), "login"),
    "auth.end_sessions": (frozenset({"POST"}), "login"),
    "auth.revoke_token": (frozenset({"POST"}), "login"),
    "auth.unsubscribe": (frozenset({"GET", "POST"}), "public"),
    "my.posts": (frozenset({"GET"}), "verified"),
    "admin.dashboard": (frozenset({"GET"}), "moderator"),  # moderators see its moderation parts
    "admin.posts": (frozenset({"GET"}), "moderator"),
    "admin.post_action": (frozenset({"POST"}), "moderator"),
    "admin.bulk_posts": (frozenset({"POST"}), "moderator"),
    "admin.activity": (frozenset({"GET"}), "moderator"),
    "admin.users": (frozenset({"GET"}), "admin"),
    "admin.change_role": (frozenset({"POST"}), "admin"),
    "admin.set_active": (frozenset({"POST"}), "admin"),
    "admin.resend_verification": (frozenset({"POST"}), "admin"),
    "admin.delete_user": (frozenset({"POST"}), "admin"),
    "admin.categories": (frozenset({"GET"}), "admin"),
    "admin.redirects": (frozenset({"GET"}), "admin"),
    "admin.import_index": (frozenset({"GET"}), "admin"),
    "admin.upload_import": (frozenset({"POST"}), "admin"),
    "admin.import_run": (frozenset({"GET"}), "admin"),
    "admin.start_import_run": (frozenset({"POST"}), "admin"),
    "admin.create_redirect": (frozenset({"POST"}), "admin"),
    "admin.update_redirect": (frozenset({"POST"}), "admin"),
    "admin.delete_redirect": (frozenset({"POST"}), "admin"),
    "admin.create_category": (frozenset({"POST"}), "admin"),
    "admin.update_category": (frozenset({"POST"}), "admin"),
    "admin.delete_category": (frozenset({"POST"}), "admin"),
    "admin.comments": (frozenset({"GET"}), "author"),
    "admin.moderate_comment": (frozenset({"POST"}), "author"),
    "admin.delete_comment": (frozenset({"POST"}), "author"),
    "admin.bulk_moderate": (frozenset({"POST"}), "author"),
    # JSON API: bearer tokens only (401 without one), no CSRF.
    "api.login": (frozenset({"POST"}), "public"),
    "api.revoke_token": (frozenset({"DELETE"}), "login"),
    "api.openapi": (frozenset({"GET"}), "public"),
    "api.list_posts": (frozenset({"GET"}), "public"),
    "api.get_post": (frozenset({"GET"}), "public"),
    "api.create_post": (frozenset({"POST"}), "verified"),
    "api.replace_post": (frozenset({"PUT"}), "author"),
    "api.update_post": (frozenset({"PATCH"}), "author"),
    "api.delete_post": (frozenset({"DELETE"}), "author"),
    "api.list_comments": (frozenset({"GET"}), "public"),
    "api.create_comment": (frozenset({"POST"}), "verified"),
    "api.get_user": (frozenset({"GET"}), "public"),
    "api.list_users": (frozenset({"GET"}), "admin"),
    "api.update_user": (frozenset({"PATCH"}), "admin"),
    "api.moderation_queue": (frozenset({"GET"}), "author"),  # moderators, and authors for their posts
    "api.moderate_comment": (frozenset({"PATCH"}), "author"),
}

#: Routes whose successful answer is the login page (so that redirect is no refusal).
ENDS_AT_LOGIN = {"auth.end_sessions"}

#: Web routes that take a POST without a CSRF token, and why.
CSRF_EXEMPT = {
    "auth.unsubscribe": "one-click unsubscribe from a mail (RFC 8058): the signed token in the URL authenticates",
    "subscriptions.subscribe": "on every guest page, so no token (it would set a cookie); double opt-in makes a forged one harmless",
    "subscriptions.unsubscribe": "one-click unsubscribe from a newsletter mail (RFC 8058), as above",
}


def _rules(app: Flask):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        yield rule, frozenset(rule.methods - {"HEAD", "OPTIONS"})


@pytest.fixture(autouse=True)
def _fresh_login_per_request(app):
    app.test_client_class = Client  # no user cached in g from one request to the next


def test_every_route_has_a_decision(app):
    undecided = sorted({rule.endpoint for rule, _ in _rules(app)} - set(ROUTES))
    assert not undecided, f"add these endpoints to ROUTES with their methods and access: {undecided}"
    stale = sorted(set(ROUTES) - {rule.endpoint for rule, _ in _rules(app)})
    assert not stale, f"ROUTES names endpoints that no longer exist: {stale}"
    for rule, methods in _rules(app):
        assert methods == ROUTES[rule.endpoint][0], (rule.rule, sorted(methods))
        if not rule.rule.startswith("/api/") and rule.endpoint not in CATCH_ALL:
            assert methods <= {"GET", "POST"}, f"{rule.rule}: web state changes are POST only"


class World:
    """One of each role, a published post by ``author`` with a comment by ``reader``, a category."""

    def __init__(self) -> None:
        self.users = {
            "unverified": make_user(role="reader", email_confirmed=False),
            "reader": make_user(role="reader"),
            "author": make_user(role="author"),
            "moderator": make_user(role="moderator"),
            "admin": make_user(role="admin"),
        }
        self.category = Category(name="Cat", slug=f"cat-{self.users['admin'].id}")
        db.session.add(self.category)
        db.session.commit()
        self.post = make_post(author=self.users["author"], tags=["kiwi"], category_id=self.category.id)
        self.comment = make_comment(self.post, author=self.users["reader"])
        self.raw_tokens = {role: tokens.issue(user)[0] for role, user in self.users.items()}
        self.token_ids = {role: user.id for role, user in self.users.items()}

    def url(self, app: Flask, rule, role: str) -> str:
        values = {}
        for name in rule.arguments:
            values[name] = {
                "slug": self.post.slug if "category" not in rule.rule and "tag" not in rule.rule else
                (self.category.slug if "category" in rule.rule else "kiwi"),
                "category_id": self.category.id,
                "comment_id": self.comment.id,
                "parent_id": self.comment.id,
                "action": {"admin.post_action": "archive", "admin.set_active": "deactivate"}.get(rule.endpoint, "approve"),
                "post_id": self.post.id,
                "media_id": 999_999,
                "revision_id": 999_999,
                "user_id": self.users["reader"].id,
                "subscriber_id": 999_999,
                "redirect_id": 999_999,
                "run_id": 999_999,
                "number": 1,
                "id": self.comment.id,
                "path": "2019/01/01/an-old-address/",
                "token": "not-a-valid-token",
                "token_id": tokens.active(self.users.get(role, self.users["admin"]))[0].id,
                "field": "username",
                "year": self.post.published_at.year,
                "month": self.post.published_at.month,
                "filename": "css/site.css" if rule.endpoint == "static" else "nothing.png",
                "username": self.users["author"].username,
            }[name]
        with app.test_request_context():
            from flask import url_for

            return url_for(rule.endpoint, **values)


def _call(client, world: World, role: str, method: str, url: str):
    if url.startswith("/api/"):
        headers = {"Authorization": f"Bearer {world.raw_tokens[role]}"} if role != "guest" else {}
        return client.open(url, method=method, json={}, headers=headers)
    if role != "guest":
        login_as(client, world.users[role])
    return client.open(url, method=method, data={})


def _cases(app_factory):
    app = app_factory()
    with app.app_context():
        return [(rule.endpoint, rule.rule, method) for rule, methods in _rules(app) for method in sorted(methods)]


def _make_app():
    from blog import create_app
    from config import TestingConfig

    return create_app(TestingConfig)


CASES = _cases(_make_app)


@pytest.mark.parametrize("endpoint, path, method", CASES, ids=[f"{m} {p}" for _, p, m in CASES])
def test_each_role_gets_the_documented_answer(app, endpoint, path, method):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and r.rule == path)
    allowed = ACCESS[ROUTES[endpoint][1]]
    is_api = path.startswith("/api/")
    for role in ROLES:
        world = World()  # a fresh world per role: an allowed DELETE must not hide the next answer
        client = app.test_client()
        url = world.url(app, rule, role)
        response = _call(client, world, role, method, url)
        status, location = response.status_code, response.headers.get("Location", "")
        assert status < 500, (role, method, url, status)
        to_login = status in (301, 302, 303) and "/auth/login" in location
        if role in allowed and endpoint in ENDS_AT_LOGIN:
            assert status == 303 and location == "/auth/login", (role, method, url, status)
        elif role in allowed:
            assert status not in (401, 403) and not to_login, (role, method, url, status)
        elif role == "guest":
            expected = status == 401 if is_api else to_login
            assert expected, (role, method, url, status, location)
        else:
            assert status == 403, (role, method, url, status)


@pytest.mark.parametrize("endpoint, path, method", [case for case in CASES if not case[1].startswith("/api/")],
                         ids=[f"{m} {p}" for _, p, m in CASES if not p.startswith("/api/")])
def test_other_methods_are_405(app, endpoint, path, method):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and r.rule == path)
    world = World()
    url = world.url(app, rule, "admin")
    allowed = app.url_map.bind("localhost").allowed_methods(url.split("?")[0])
    login_as(client := app.test_client(), world.users["admin"])
    for other in {"GET", "POST", "PUT", "PATCH", "DELETE"} - set(allowed):
        assert client.open(url, method=other).status_code == 405, (other, url)


def test_every_web_state_change_refuses_a_missing_csrf_token(app):
    app.config["WTF_CSRF_ENABLED"] = True
    world = World()
    for rule, methods in _rules(app):
        if rule.rule.startswith("/api/") or "POST" not in methods or rule.endpoint in CSRF_EXEMPT:
            continue
        for role in ("guest", "admin"):
            client = app.test_client()
            if role == "admin":
                login_as(client, world.users["admin"])
            url = world.url(app, rule, "admin")
            response = client.post(url, data={"title": "x", "body": "x"})
            assert response.status_code == 400, (role, url, response.status_code)
            hx = client.post(url, data={"body": "x"}, headers={"HX-Request": "true"})
            assert hx.status_code == 400, (role, url, "htmx", hx.status_code)
