"""The OpenAPI 3.1 description of the API, served at /api/v1/openapi.json.

Request schemas state shapes only (types, required and known fields), exactly what the API checks
before the services do; the services' rules (lengths, a future time for a scheduled post, an
existing category) are told in descriptions and answered with 422.
"""
from __future__ import annotations

from flask import Response
from flask import current_app
from flask import jsonify

from blog.api import bp
from blog.api import schemas
from blog.models.post import STATUSES

JSON = "application/json"

def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra) -> dict:
    return {"type": [kind, "null"], **extra}


_TIME = {"type": "string", "format": "date-time", "description": "UTC, ISO-8601 with a Z."}
_LINK = {"type": "string", "format": "uri"}
_COUNT = {"type": "integer", "minimum": 0}

SCHEMAS: dict[str, dict] = {
    "Error": {
        "type": "object",
        "description": "Every error, whatever the status.",
        "required": ["error", "message", "status"],
        "additionalProperties": False,
        "properties": {
            "error": {"type": "string", "description": "The status's name, e.g. \"Not Found\".", "examples": ["Not Found"]},
            "message": {"type": "string", "description": "What went wrong, for a person."},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "fields": {"$ref": "#/components/schemas/FieldErrors"},
        },
    },
    "ValidationError": {
        "description": "A 422: the error object with the problems per field.",
        "allOf": [ref("Error"), {"type": "object", "required": ["fields"]}],
    },
    "FieldErrors": {
        "type": "object",
        "description": "Field name to messages. Unknown fields are listed with \"Unknown field.\"",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    "Author": {
        "type": "object",
        "required": ["username", "url"],
        "additionalProperties": False,
        "properties": {"username": {"type": "string"}, "url": {**_LINK, "description": "Their public profile page."}},
    },
    "Post": {
        "type": "object",
        "required": ["id", "slug", "url", "title", "summary", "body", "html", "status", "tags", "category", "author",
                     "cover_image", "cover_alt", "reading_time", "views", "comment_count", "created_at", "updated_at",
                     "published_at", "kind", "nav_order"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "slug": {"type": "string"},
            "url": {**_LINK, "description": "The post's page on the site (/blog/<slug>; a page's is /<slug>)."},
            "kind": {"enum": ["post", "page"], "description": "A static page is served at /<slug>, out of listings and feeds."},
            "nav_order": _nullable("integer", minimum=0, maximum=schemas.MAX_NAV_ORDER, description=(
                "A page's place in the header menu (lowest first); null when it is not in the menu.")),
            "title": {"type": "string"},
            "summary": {"type": "string"},
            "body": {"type": "string", "description": "Markdown, as written."},
            "html": {"type": "string", "description": "The body rendered and sanitised, as the site shows it."},
            "status": {"enum": list(STATUSES)},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Tag names."},
            "category": _nullable("string", description="The category's slug."),
            "author": ref("Author"),
            "cover_image": _nullable("string", format="uri", description="The cover picture's URL."),
            "cover_alt": {"type": "string", "maxLength": 300,
                          "description": "The cover's alt text (empty: decorative); optional when writing."},
            "reading_time": {"type": "integer", "minimum": 1, "description": "Minutes."},
            "views": _COUNT,
            "comment_count": {**_COUNT, "description": "Approved comments."},
            "created_at": _TIME,
            "updated_at": _TIME,
            "published_at": {**_TIME, "type": ["string", "null"],
                             "description": "When it went (or, scheduled, will go) live; null for drafts."},
        },
    },
    "PostList": {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": ref("Post")},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": schemas.MAX_PER_PAGE},
            "total": _COUNT,
            "pages": _COUNT,
        },
    },
    "Comment": {
        "type": "object",
        "required": ["id", "parent_id", "author", "body", "html", "status", "removed", "created_at"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "parent_id": _nullable("integer", description="The comment this one replies to; null for a new thread."),
            "author": {"oneOf": [ref("Author"), {"type": "null"}],
                       "description": "Null when the comment was removed or its writer's account deleted."},
            "body": {"type": "string", "description": "As written (empty when removed)."},
            "html": {"type": "string", "description": "Rendered and sanitised (empty when removed)."},
            "status": {"enum": ["approved", "pending"],
                       "description": "A new comment is \"pending\" while it waits for a moderator."},
            "removed": {"type": "boolean",
                        "description": "Deleted by its writer or a moderator; kept so that its replies read on."},
            "created_at": _TIME,
        },
    },
    "CommentList": {
        "type": "object",
        "required": ["items", "comment_count"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": ref("Comment"),
                      "description": "Oldest thread first; each reply comes after its parent and names it."},
            "comment_count": {**_COUNT, "description": "Approved comments that are not removed."},
        },
    },
    "User": {
        "type": "object",
        "required": ["username", "url", "role", "bio", "links", "avatar", "post_count", "created_at"],
        "additionalProperties": False,
        "properties": {
            "username": {"type": "string"},
            "url": {**_LINK, "description": "Their public profile page."},
            "role": {"enum": ["reader", "author", "moderator", "admin"]},
            "bio": {"type": "string"},
            "links": {"type": "object", "additionalProperties": {"type": "string", "format": "uri"},
                      "description": "website, github, mastodon, bluesky, linkedin: those they filled in."},
            "avatar": _nullable("string", format="uri"),
            "post_count": {**_COUNT, "description": "Published posts."},
            "created_at": _TIME,
        },
    },
    "PostInput": {
        "type": "object",
        "description": (
            "A post to create, or the whole of one to replace (PUT). Fields other than these, and the read-only "
            "fields of the post object (which are ignored, so a post read with GET can be sent back), are "
            "refused with 422. Rules checked by the site, each a 422 with the field's name: title up to "
            "200 characters, not blank; body up to 100,000, not blank; summary up to 500; at most 10 tags of "
            "up to 50 characters with a letter or digit; status allowed for your role; published_at in the "
            "future for a scheduled post; category an existing slug; slug lowercase letters, digits and dashes; images in the body from other "
            "sites are refused (upload them: the page's security policy blocks them)."),
        "required": ["title", "body"],
        "additionalProperties": False,
        "properties": {
            "title": {"type": "string"},
            "body": {"type": "string", "description": "Markdown."},
            "summary": {"type": "string", "description": "Default empty."},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Tag names; new ones are created."},
            "category": _nullable("string", description="A category's slug; null or absent for none."),
            "status": {"enum": list(STATUSES), "description": (
                "Default draft. Authors: draft, published, scheduled, archived. Readers: draft, pending, or "
                "published, which becomes pending until a moderator approves it.")},
            "published_at": _nullable("string", description=(
                "For status scheduled: when to publish, ISO-8601 (no offset means UTC). Ignored otherwise.")),
            "slug": {"type": "string", "description": (
                "The address; by default made from the title. 409 when another post has it.")},
            "cover_alt": {"type": "string", "description": (
                "The cover's alt text, up to 300 characters; absent keeps it as it is.")},
            "kind": {"enum": ["post", "page"], "description": (
                "Default post (PUT keeps the current kind when left out). Pages need the author role.")},
            "nav_order": _nullable("integer", minimum=0, maximum=schemas.MAX_NAV_ORDER, description=(
                "Pages only, admins only: the place in the header menu; null for none. PUT keeps it when "
                "left out. 422 for anyone else who changes it.")),
            # Any value: accepted and ignored (not readOnly, which would mean "must not be sent").
            **{name: {"description": "Read-only field of the post object: accepted and ignored."}
               for name in schemas.READ_ONLY},
        },
    },
    "PostPatch": {
        "description": "Some fields of a post (the others keep their values); same fields and rules as PostInput.",
        "type": "object",
        "additionalProperties": False,
        "properties": {},  # filled below from PostInput
    },
    "CommentInput": {
        "type": "object",
        "description": "Body up to 5,000 characters, not blank (422 otherwise). Other fields are refused with 422.",
        "required": ["body"],
        "additionalProperties": False,
        "properties": {
            "body": {"type": "string", "description": "Markdown-lite: paragraphs, emphasis, code, links."},
            "parent_id": {"type": ["integer", "null"], "minimum": 1, "maximum": schemas.MAX_ID,
                          "description": "Reply to this approved comment of the same post (422 otherwise)."},
        },
    },
    "LoginInput": {
        "type": "object",
        "required": ["email", "password"],
        "additionalProperties": False,
        "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
    },
    "Token": {
        "type": "object",
        "required": ["token", "expires_at"],
        "additionalProperties": False,
        "properties": {
            "token": {"type": "string", "description": "Send as 'Authorization: Bearer <token>'. Shown only once."},
            "expires_at": _TIME,
        },
    },
}
SCHEMAS["PostPatch"]["properties"] = SCHEMAS["PostInput"]["properties"]


def _page_of(item: str, description: str) -> dict:
    return {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": ref(item), "description": description},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": schemas.MAX_PER_PAGE},
            "total": _COUNT,
            "pages": _COUNT,
        },
    }


# Administration (admins: users; moderators and a post's author: the comment queue).
SCHEMAS.update({
    "AdminUser": {
        "type": "object",
        "description": "A user as admins see them (with the email address and the account's state).",
        "required": ["username", "url", "email", "role", "active", "email_confirmed", "post_count", "comment_count",
                     "created_at"],
        "additionalProperties": False,
        "properties": {
            "username": {"type": "string"},
            "url": {**_LINK, "description": "Their public profile page."},
            "email": {"type": "string"},
            "role": {"enum": ["reader", "author", "moderator", "admin"]},
            "active": {"type": "boolean", "description": "False: deactivated (cannot log in; content kept)."},
            "email_confirmed": {"type": "boolean"},
            "post_count": {**_COUNT, "description": "Posts of any status."},
            "comment_count": _COUNT,
            "created_at": _TIME,
        },
    },
    "AdminUserList": _page_of("AdminUser", "Newest first."),
    "UserPatch": {
        "type": "object",
        "description": ("Change a role and/or deactivate or reactivate. Nobody changes themselves, and the last "
                        "active admin cannot be demoted or deactivated (403). A role change or a deactivation "
                        "revokes the user's API tokens; a deactivated user is signed out everywhere."),
        "additionalProperties": False,
        "properties": {
            "role": {"enum": ["reader", "author", "moderator", "admin"]},
            "active": {"type": "boolean"},
        },
    },
    "ModerationComment": {
        "type": "object",
        "required": ["id", "post", "parent_id", "author", "body", "html", "status", "removed", "created_at"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "post": {"type": "object", "required": ["slug", "title", "url"], "additionalProperties": False,
                     "properties": {"slug": {"type": "string"}, "title": {"type": "string"}, "url": _LINK}},
            "parent_id": _nullable("integer"),
            "author": {"oneOf": [ref("Author"), {"type": "null"}], "description": "Null when the account was deleted."},
            "body": {"type": "string"},
            "html": {"type": "string"},
            "status": {"enum": ["pending", "approved", "rejected", "spam"]},
            "removed": {"type": "boolean"},
            "created_at": _TIME,
        },
    },
    "ModerationCommentList": _page_of("ModerationComment", "Newest first."),
    "CommentPatch": {
        "type": "object",
        "required": ["status"],
        "additionalProperties": False,
        "properties": {"status": {"enum": ["approved", "rejected", "spam"]}},
    },
})

_RATE_HEADERS = {
    "X-RateLimit-Limit": {"description": "Requests allowed in the window (100 an hour per token).",
                          "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "Requests left in the window.", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "When the window resets, in Unix seconds.", "schema": {"type": "integer"}},
}


def _error(description: str, *, schema: str = "Error", headers: dict | None = None) -> dict:
    response = {"description": description, "content": {JSON: {"schema": ref(schema)}}}
    if headers:
        response["headers"] = headers
    return response


ERRORS = {
    "400": _error("Malformed JSON, or a body that is not a JSON object."),
    "401": _error("No token, or one that is unknown, expired or revoked.", headers={
        "WWW-Authenticate": {"required": True, "description": "Bearer, with error=\"invalid_token\" when one was refused.",
                             "schema": {"type": "string"}}}),
    "403": _error("Not allowed: someone else's post, an unconfirmed email address, or a moderator's or admin's task."),
    "404": _error("No such post, comment or user, or a draft you may not see."),
    "409": _error("The slug belongs to another post."),
    "413": _error("The body is larger than the site accepts (MAX_CONTENT_LENGTH)."),
    "415": _error("The body is not sent as application/json."),
    "422": _error("A field is not valid; `fields` says which and why.", schema="ValidationError"),
    "429": _error("Too many requests: 100 an hour per token, fewer for logins and comments.", headers={
        "Retry-After": {"required": True, "description": "Seconds to wait.", "schema": {"type": "integer"}}}),
}


def _errors(*codes: str) -> dict:
    return {code: ERRORS[code] for code in codes}


def _ok(description: str, schema: str, *, headers: dict | None = None) -> dict:
    return {"description": description, "content": {JSON: {"schema": ref(schema)}},
            "headers": {**_RATE_HEADERS, **(headers or {})}}


_ETAG = {"ETag": {"required": True, "description": "Strong: a digest of the exact body. Send it back in If-None-Match.",
                  "schema": {"type": "string"}}}
_NOT_MODIFIED = {"304": {"description": "Not modified: If-None-Match named the current ETag. No body.",
                         "headers": {"ETag": _ETAG["ETag"]}}}
_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                  "description": "The ETag you have: a 304 without a body when it is still current."}
_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}, "examples": {
    "post": {"value": "hello-world"}}}

BEARER = [{"bearerAuth": []}]
OPTIONAL = [{}, {"bearerAuth": []}]


def _body(schema: str) -> dict:
    return {"required": True, "content": {JSON: {"schema": ref(schema)}}}


def _query(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PATHS = {
    "/auth/login": {"post": {
        "operationId": "login",
        "summary": "Trade an email and password for a token",
        "description": "Tokens last API_TOKEN_DAYS (30 by default) unless revoked. Failed tries are limited to 5 a "
                       "minute per address, and an account backs off after repeated failures (429 with Retry-After).",
        "tags": ["auth"],
        "security": [],
        "requestBody": _body("LoginInput"),
        "responses": {"201": {"description": "A new token.", "content": {JSON: {"schema": ref("Token")}},
                              "headers": _RATE_HEADERS},
                      **_errors("400", "401", "413", "415", "422", "429")},
    }},
    "/auth/token": {"delete": {
        "operationId": "revokeToken",
        "summary": "Revoke the token this request carries",
        "tags": ["auth"],
        "security": BEARER,
        "responses": {"204": {"description": "Revoked: it no longer works.", "headers": _RATE_HEADERS},
                      **_errors("401", "429")},
    }},
    "/posts": {
        "get": {
            "operationId": "listPosts",
            "summary": "Published posts, newest first",
            "description": "Unknown query parameters are ignored. A page past the last one is a 404.",
            "tags": ["posts"],
            "security": OPTIONAL,
            "parameters": [
                _query("page", "Page number, from 1.", {"type": "integer", "minimum": 1, "maximum": schemas.MAX_PAGE,
                                                         "default": 1}),
                _query("per_page", "Posts per page (default POSTS_PER_PAGE, 10); more than 100 gives 100.",
                       {"type": "integer", "minimum": 1}),
                _query("tag", "Only posts with this tag (its slug); 404 for an unknown tag.", {"type": "string"}),
                _query("category", "Only posts in this category or its sub-categories (slug); 404 when unknown.",
                       {"type": "string"}),
                _query("q", "Full-text search over title, body and tags, best match first.", {"type": "string"}),
                _query("status", "Moderators and admins only (403 otherwise, 401 without a token): posts in this "
                       "status by any author; pending is the review queue, longest-waiting first. Not with tag "
                       "or q (422).", {"enum": list(STATUSES), "default": "published"}),
                _IF_NONE_MATCH,
            ],
            "responses": {"200": _ok("A page of posts.", "PostList", headers=_ETAG), **_NOT_MODIFIED,
                          **_errors("401", "403", "404", "422", "429")},
        },
        "post": {
            "operationId": "createPost",
            "summary": "Write a post",
            "description": "Needs a confirmed email address. A reader's post waits for a moderator: \"published\" "
                           "is saved as \"pending\".",
            "tags": ["posts"],
            "security": BEARER,
            "requestBody": _body("PostInput"),
            "responses": {"201": _ok("The new post.", "Post", headers={
                "Location": {"required": True, "description": "The post's API address.", "schema": {"type": "string"}},
                **_ETAG}), **_errors("400", "401", "403", "409", "413", "415", "422", "429")},
        },
    },
    "/posts/{slug}": {
        "parameters": [_SLUG],
        "get": {
            "operationId": "getPost",
            "summary": "One post",
            "description": "Drafts, pending and scheduled posts are a 404 to anyone but their author and moderators.",
            "tags": ["posts"],
            "security": OPTIONAL,
            "parameters": [_IF_NONE_MATCH],
            "responses": {"200": _ok("The post.", "Post", headers={
                **_ETAG, "Last-Modified": {"required": True, "description": "The post's updated_at.",
                                           "schema": {"type": "string"}}}),
                **_NOT_MODIFIED, **_errors("401", "404", "429")},
        },
        "put": {
            "operationId": "replacePost",
            "summary": "Replace a post",
            "description": "Fields left out take their defaults, as for a new post (status draft, no tags ...). "
                           "Authors change their own posts, moderators and admins any.",
            "tags": ["posts"],
            "security": BEARER,
            "requestBody": _body("PostInput"),
            "responses": {"200": _ok("The post as saved.", "Post", headers=_ETAG),
                          **_errors("400", "401", "403", "404", "409", "413", "415", "422", "429")},
        },
        "patch": {
            "operationId": "updatePost",
            "summary": "Change some fields of a post",
            "tags": ["posts"],
            "security": BEARER,
            "requestBody": _body("PostPatch"),
            "responses": {"200": _ok("The post as saved.", "Post", headers=_ETAG),
                          **_errors("400", "401", "403", "404", "409", "413", "415", "422", "429")},
        },
        "delete": {
            "operationId": "deletePost",
            "summary": "Delete a post with its comments",
            "tags": ["posts"],
            "security": BEARER,
            "responses": {"204": {"description": "Deleted.", "headers": _RATE_HEADERS},
                          **_errors("401", "403", "404", "429")},
        },
    },
    "/posts/{slug}/comments": {
        "parameters": [_SLUG],
        "get": {
            "operationId": "listComments",
            "summary": "The approved comments of a post, threaded via parent_id",
            "tags": ["comments"],
            "security": OPTIONAL,
            "parameters": [_IF_NONE_MATCH],
            "responses": {"200": _ok("The thread.", "CommentList", headers=_ETAG), **_NOT_MODIFIED,
                          **_errors("401", "404", "429")},
        },
        "post": {
            "operationId": "createComment",
            "summary": "Comment on a post, or reply to a comment",
            "description": "Needs a confirmed email address and a published post that takes comments (403 "
                           "otherwise). The site's moderation rules apply: the comment may be \"pending\". "
                           "10 comments an hour per user.",
            "tags": ["comments"],
            "security": BEARER,
            "requestBody": _body("CommentInput"),
            "responses": {"201": _ok("The new comment.", "Comment", headers=_ETAG),
                          **_errors("400", "401", "403", "404", "413", "415", "422", "429")},
        },
    },
    "/users": {"get": {
        "operationId": "listUsers",
        "summary": "Admins: every user, newest first",
        "tags": ["users"],
        "security": BEARER,
        "parameters": [
            _query("page", "Page number, from 1.", {"type": "integer", "minimum": 1, "maximum": schemas.MAX_PAGE,
                                                     "default": 1}),
            _query("per_page", "Users per page; more than 100 gives 100.", {"type": "integer", "minimum": 1}),
            _query("q", "Name or email contains this.", {"type": "string"}),
            _query("role", "Only this role.", {"enum": ["reader", "author", "moderator", "admin"]}),
            _query("verified", "Only verified (true) or unverified (false) addresses.", {"enum": ["true", "false"]}),
            _query("active", "Only active (true) or deactivated (false) accounts.", {"enum": ["true", "false"]}),
            _IF_NONE_MATCH,
        ],
        "responses": {"200": _ok("A page of users.", "AdminUserList", headers=_ETAG), **_NOT_MODIFIED,
                      **_errors("401", "403", "422", "429")},
    }},
    "/users/{username}": {
        "parameters": [{"name": "username", "in": "path", "required": True, "schema": {"type": "string"},
                        "examples": {"user": {"value": "alice"}}}],
        "get": {
            "operationId": "getUser",
            "summary": "A public profile",
            "tags": ["users"],
            "security": OPTIONAL,
            "parameters": [_IF_NONE_MATCH],
            "responses": {"200": _ok("The profile.", "User", headers=_ETAG), **_NOT_MODIFIED,
                          **_errors("401", "404", "429")},
        },
        "patch": {
            "operationId": "updateUser",
            "summary": "Admins: change a user's role or deactivate them",
            "tags": ["users"],
            "security": BEARER,
            "requestBody": _body("UserPatch"),
            "responses": {"200": _ok("The user as they now are.", "AdminUser", headers=_ETAG),
                          **_errors("400", "401", "403", "404", "413", "415", "422", "429")},
        },
    },
    "/comments": {"get": {
        "operationId": "listModerationQueue",
        "summary": "The comment moderation queue",
        "description": "Moderators and admins see every comment; authors those on their own posts; readers get 403.",
        "tags": ["comments"],
        "security": BEARER,
        "parameters": [
            _query("page", "Page number, from 1.", {"type": "integer", "minimum": 1, "maximum": schemas.MAX_PAGE,
                                                     "default": 1}),
            _query("per_page", "Comments per page; more than 100 gives 100.", {"type": "integer", "minimum": 1}),
            _query("status", "Comments in this status.", {"enum": ["pending", "approved", "rejected", "spam"],
                                                         "default": "pending"}),
            _query("post", "Only comments on this post (its slug).", {"type": "string"}),
            _IF_NONE_MATCH,
        ],
        "responses": {"200": _ok("A page of comments.", "ModerationCommentList", headers=_ETAG), **_NOT_MODIFIED,
                      **_errors("401", "403", "404", "422", "429")},
    }},
    "/comments/{id}": {"patch": {
        "operationId": "moderateComment",
        "summary": "Approve, reject or mark a comment as spam",
        "description": "Moderators, and the post's author for its comments. Setting the status it has changes nothing.",
        "tags": ["comments"],
        "security": BEARER,
        "parameters": [{"name": "id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1}, "examples": {"comment": {"value": 1}}}],
        "requestBody": _body("CommentPatch"),
        "responses": {"200": _ok("The comment as it now is.", "ModerationComment", headers=_ETAG),
                      **_errors("400", "401", "403", "404", "413", "415", "422", "429")},
    }},
    "/openapi.json": {"get": {
        "operationId": "openapi",
        "summary": "This document",
        "tags": ["meta"],
        "security": [],
        "responses": {"200": {"description": "The OpenAPI 3.1 description of the API.",
                              "content": {JSON: {"schema": {"type": "object", "required": ["openapi", "paths"]}}}}},
    }},
}


def document() -> dict:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{current_app.config['SITE_NAME']} API",
            "version": "1.0.0",
            "description": (
                "JSON API of the blog. Authenticate with 'Authorization: Bearer <token>' from POST /auth/login; "
                "cookies are never accepted. Guests may read published posts, comments and profiles. Every error "
                "is {error, message, status}, with fields on a 422. Request bodies must be JSON objects; unknown "
                "fields are refused with 422 (the read-only fields of a post are accepted and ignored). Unknown "
                "query parameters are ignored. 100 requests an hour per token (per address without one)."),
        },
        "servers": [{"url": "/api/v1"}],
        "tags": [{"name": name} for name in ("auth", "posts", "comments", "users", "meta")],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "A token from POST /auth/login."}},
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    """This API's OpenAPI 3.1 description."""
    return jsonify(document())
