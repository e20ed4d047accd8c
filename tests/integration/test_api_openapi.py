"""/api/v1/openapi.json: a valid OpenAPI 3.1 document, and true to the code.

Every documented operation is called, and what it answers (status, body, required headers) is
checked against what the document says it answers.
"""
from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from blog.services import tokens
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user

API = "/api/v1"


@pytest.fixture
def doc(client) -> dict:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def operation_for(doc: dict, method: str, path: str) -> tuple[str, dict]:
    """The documented path template and operation that ``method path`` (an API path) is."""
    parts = path.split("?")[0][len(API):].strip("/").split("/")
    for template, item in doc["paths"].items():
        pieces = template.strip("/").split("/")
        if len(pieces) == len(parts) and all(p == q or p.startswith("{") for p, q in zip(pieces, parts)):
            if method in item:
                return template, item[method]
    raise AssertionError(f"{method.upper()} {path} is not documented")


def conforms(doc: dict, method: str, path: str, response) -> None:
    """``response`` has a documented status, and its body and required headers are as documented."""
    template, operation = operation_for(doc, method, path)
    documented = operation["responses"].get(str(response.status_code))
    assert documented, f"{method.upper()} {template} answered an undocumented {response.status_code}"
    for name, header in documented.get("headers", {}).items():
        if header.get("required"):
            assert name in response.headers, f"{response.status_code} of {template} lacks {name}"
    content = documented.get("content")
    if content is None:
        assert response.data == b"", f"{response.status_code} of {template} should have no body"
        return
    assert response.mimetype == "application/json"
    schema = {**content["application/json"]["schema"], "components": doc["components"]}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(response.get_json()), key=str)
    assert not errors, f"{method.upper()} {template} {response.status_code}: {errors[0]}"


def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1")
    validate_spec(doc)


def test_every_api_route_is_documented_and_every_documented_path_exists(app, doc):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = rule.rule[len(API):].replace("<", "{").replace(">", "}")
            routes |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in doc["paths"].items() for method in item if method != "parameters"}
    assert routes == documented


def test_every_error_response_uses_the_error_shape(doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"]["$ref"].endswith(
                        "/ValidationError" if status == "422" else "/Error"), (path, method, status)


def test_every_documented_operation_answers_as_documented(client, doc):
    """The success path of each operation, in the order a client would take them."""
    author = make_user(username="ada")
    post = make_post(author, title="Existing", tags=["python"])
    make_comment(post)
    called: set[str] = set()

    def call(method: str, path: str, **kwargs):
        response = getattr(client, method)(path, **kwargs)
        conforms(doc, method, path, response)
        called.add(operation_for(doc, method, path)[1]["operationId"])
        return response

    assert call("post", f"{API}/auth/login", json={"email": author.email, "password": "correct horse battery"}
                ).status_code == 201
    raw, _ = tokens.issue(author)
    auth = {"Authorization": f"Bearer {raw}"}
    assert call("get", f"{API}/openapi.json").status_code == 200
    listing = call("get", f"{API}/posts?page=1&per_page=5&tag=python")
    assert listing.status_code == 200
    assert call("get", f"{API}/posts", headers={"If-None-Match": listing.headers["ETag"]}).status_code in (200, 304)
    assert call("get", f"{API}/posts?per_page=5&tag=python", headers={"If-None-Match": listing.headers["ETag"]}
                ).status_code == 304
    assert call("get", f"{API}/posts?q=existing").status_code == 200
    created = call("post", f"{API}/posts", headers=auth, json={
        "title": "New", "body": "Body", "summary": "S", "tags": ["a"], "category": None, "status": "published"})
    assert created.status_code == 201
    slug = created.get_json()["slug"]
    got = call("get", f"{API}/posts/{slug}")
    assert got.status_code == 200
    assert call("get", f"{API}/posts/{slug}", headers={"If-None-Match": got.headers["ETag"]}).status_code == 304
    assert call("put", f"{API}/posts/{slug}", headers=auth, json={**got.get_json(), "title": "Renewed"}
                ).status_code == 200
    assert call("patch", f"{API}/posts/{slug}", headers=auth, json={"summary": "Patched"}).status_code == 200
    assert call("post", f"{API}/posts/{post.slug}/comments", headers=auth, json={"body": "Hello"}).status_code == 201
    thread = call("get", f"{API}/posts/{post.slug}/comments")
    assert thread.status_code == 200 and len(thread.get_json()["items"]) == 2
    assert call("get", f"{API}/posts/{post.slug}/comments", headers={"If-None-Match": thread.headers["ETag"]}
                ).status_code == 304
    profile = call("get", f"{API}/users/ada")
    assert profile.status_code == 200
    assert call("get", f"{API}/users/ada", headers={"If-None-Match": profile.headers["ETag"]}).status_code == 304
    assert call("delete", f"{API}/posts/{slug}", headers=auth).status_code == 204
    assert call("delete", f"{API}/auth/token", headers=auth).status_code == 204
    # Administration, as an admin (issue 13).
    admin = {"Authorization": f"Bearer {tokens.issue(make_user(role='admin', username='root'))[0]}"}
    assert call("get", f"{API}/users?role=author&q=ad&verified=true&active=true", headers=admin).status_code == 200
    make_post(author, title="Waiting", status="pending")
    assert call("get", f"{API}/posts?status=pending", headers=admin).status_code == 200
    queue = call("get", f"{API}/comments?status=approved", headers=admin)
    assert queue.status_code == 200 and queue.get_json()["items"]
    comment_id = queue.get_json()["items"][0]["id"]
    assert call("patch", f"{API}/comments/{comment_id}", headers=admin, json={"status": "spam"}).status_code == 200
    assert call("patch", f"{API}/users/ada", headers=admin, json={"role": "moderator", "active": False}
                ).status_code == 200
    documented = {operation["operationId"] for item in doc["paths"].values()
                  for method, operation in item.items() if method != "parameters"}
    assert called == documented


def test_every_error_status_answers_as_documented(client, app, doc):
    """Each error status the API gives, for an operation that documents it, matches the document."""
    owner, stranger = make_user(), make_user()
    unverified = make_user(email_confirmed=False)
    post = make_post(owner, slug="owned")
    make_post(owner, slug="taken")
    own, theirs, unconfirmed = ({"Authorization": f"Bearer {tokens.issue(user)[0]}"}
                                for user in (owner, stranger, unverified))
    cases = [
        ("post", f"{API}/posts", {"headers": own, "data": "{", "content_type": "application/json"}, 400),
        ("post", f"{API}/posts", {"json": {"title": "T", "body": "B"}}, 401),
        ("delete", f"{API}/auth/token", {}, 401),
        ("get", f"{API}/posts", {"headers": {"Authorization": "Bearer wrong"}}, 401),
        ("post", f"{API}/auth/login", {"json": {"email": owner.email, "password": "not it at all"}}, 401),
        ("patch", f"{API}/posts/owned", {"headers": theirs, "json": {"title": "Mine"}}, 403),
        ("post", f"{API}/posts", {"headers": unconfirmed, "json": {"title": "T", "body": "B"}}, 403),
        ("post", f"{API}/posts/owned/comments", {"headers": unconfirmed, "json": {"body": "Hi"}}, 403),
        ("delete", f"{API}/posts/owned", {"headers": theirs}, 403),
        ("get", f"{API}/posts/nothing", {}, 404),
        ("get", f"{API}/posts?page=9", {}, 404),
        ("get", f"{API}/posts/nothing/comments", {}, 404),
        ("get", f"{API}/users/nobody", {}, 404),
        ("put", f"{API}/posts/nothing", {"headers": own, "json": {"title": "T", "body": "B"}}, 404),
        ("post", f"{API}/posts/nothing/comments", {"headers": own, "json": {"body": "Hi"}}, 404),
        ("put", f"{API}/posts/owned", {"headers": own, "json": {"title": "T", "body": "B", "slug": "taken"}}, 409),
        ("post", f"{API}/posts", {"headers": own, "json": {"title": "T", "body": "B", "slug": "taken"}}, 409),
        ("post", f"{API}/posts", {"headers": own, "data": "title=T"}, 415),
        ("post", f"{API}/auth/login", {"data": "email=a"}, 415),
        ("post", f"{API}/posts", {"headers": own, "json": {"title": ""}}, 422),
        ("patch", f"{API}/posts/owned", {"headers": own, "json": {"tags": 5}}, 422),
        ("post", f"{API}/posts/owned/comments", {"headers": own, "json": {"body": ""}}, 422),
        ("post", f"{API}/auth/login", {"json": {}}, 422),
        ("get", f"{API}/posts?page=0", {}, 422),
        ("get", f"{API}/users", {"headers": own}, 403),
        ("get", f"{API}/users", {}, 401),
        ("patch", f"{API}/users/nobody", {"headers": own, "json": {"role": "admin"}}, 403),
        ("get", f"{API}/posts?status=pending", {"headers": own}, 403),
        ("get", f"{API}/posts?status=pending", {}, 401),
        ("get", f"{API}/posts?status=bogus", {}, 422),
        ("get", f"{API}/comments?status=bogus", {"headers": own}, 422),
        ("patch", f"{API}/comments/999999", {"headers": own, "json": {"status": "spam"}}, 404),
    ]
    for method, path, kwargs, status in cases:
        response = getattr(client, method)(path, **kwargs)
        assert response.status_code == status, (method, path, response.get_data(as_text=True))
        conforms(doc, method, path, response)
    app.config["MAX_CONTENT_LENGTH"] = 100
    too_big = client.post(f"{API}/posts", headers=own, json={"title": "T", "body": "B" * 200})
    assert too_big.status_code == 413
    conforms(doc, "post", f"{API}/posts", too_big)
    for _ in range(100):
        client.get(f"{API}/posts/owned", headers=own)
    limited = client.get(f"{API}/posts/owned", headers=own)
    assert limited.status_code == 429
    conforms(doc, "get", f"{API}/posts/owned", limited)
    assert post.slug == "owned"
