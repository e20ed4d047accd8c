"""What goes in and out of the API: JSON bodies read and checked for shape, models written as JSON.

Shapes only (types, known names); the rules for a post or a comment stay in their services.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from datetime import UTC
from datetime import datetime

from flask import Response
from flask import abort
from flask import current_app
from flask import jsonify
from flask import request
from flask import url_for
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from blog.extensions import db
from blog.rendering import vary
from blog.models import Comment
from blog.models import Post
from blog.models.base import MAX_ID  # ids past it cannot name a row (also in the OpenAPI document)
from blog.models import User
from blog.services import media
from blog.services import taxonomy
from blog.services.errors import Invalid
from blog.services.errors import NotFound
from blog.services.posts import PostInput

#: Fields a client may set on a post.
POST_FIELDS = ("title", "body", "summary", "tags", "category", "status", "published_at", "slug", "cover_alt", "kind",
               "nav_order")
#: The header-menu positions an admin may give a page.
MAX_NAV_ORDER = 1000
#: Fields of the post object that are the server's to set: accepted and ignored, so that a post read
#: with GET can be sent back with PUT. Any other name is refused (422): a typo is never silently lost.
READ_ONLY = ("id", "url", "html", "author", "cover_image", "reading_time", "views", "comment_count",
             "created_at", "updated_at")
COMMENT_FIELDS = ("body", "parent_id")
LOGIN_FIELDS = ("email", "password")
#: Service field names that the API calls differently.
_API_NAMES = {"category_id": "category", "publish_at": "published_at"}
MAX_PER_PAGE = 100
#: Pages past this are refused before any query (an offset that large is never a real page).
MAX_PAGE = 1_000_000
_DIGITS = re.compile(r"[0-9]{1,30}")


# --- reading requests ---------------------------------------------------------------------

def json_body() -> dict:
    """The request's JSON object.

    Raises 415 when it is not sent as JSON, 413 past MAX_CONTENT_LENGTH, 400 when it does not parse
    or is not an object.
    """
    if not request.is_json:
        abort(415, "Send the body as JSON, with 'Content-Type: application/json'.")
    raw = request.get_data(cache=False)  # reading past MAX_CONTENT_LENGTH raises 413
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        abort(400, "The body is not valid JSON.")
    if not isinstance(data, dict):
        abort(400, "The body must be a JSON object.")
    return data


def unknown(data: dict, known: tuple[str, ...]) -> dict[str, list[str]]:
    """An error for each field of ``data`` that is not in ``known``."""
    return {name: ["Unknown field."] for name in data if name not in known}


def _clean(value: str) -> str | None:
    """``value`` when the database can store it: no NUL character, no lone surrogate."""
    if "\x00" in value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def string(data: dict, name: str, errors: dict[str, list[str]], *, nullable: bool = False) -> str | None:
    """``data[name]`` as text (None when absent, or null and ``nullable``); a wrong type is an error."""
    value = data.get(name)
    if value is None and (nullable or name not in data):
        return None
    if not isinstance(value, str):
        errors[name] = ["Must be a string or null." if nullable else "Must be a string."]
        return None
    if _clean(value) is None:
        errors[name] = ["Must be valid text, without NUL characters."]
        return None
    return value


def identifier(data: dict, name: str, errors: dict[str, list[str]]) -> int | None:
    """``data[name]`` as a row id (None when absent or null); anything else is an error."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        errors[name] = ["Must be the id of a comment (a positive integer) or null."]
        return None
    return value


def parse_time(value: str) -> datetime | None:
    """An ISO-8601 date and time as naive UTC (no offset means UTC), or None when it does not parse."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            return None
    return moment


def post_input(data: dict, base: PostInput) -> PostInput:
    """``base`` with the fields ``data`` sends. Raises Invalid for unknown fields and wrong types."""
    errors = unknown(data, POST_FIELDS + READ_ONLY)
    values = replace(base)
    for name in ("title", "body", "summary", "status", "slug", "cover_alt"):
        value = string(data, name, errors)
        if value is not None:
            setattr(values, name, value.strip() if name == "slug" else value)
    if "tags" in data:
        tags = data["tags"]
        if not isinstance(tags, list) or not all(isinstance(tag, str) and _clean(tag) is not None for tag in tags):
            errors["tags"] = ["Must be a list of tag names (strings)."]
        else:
            values.tags = tags
    if "category" in data:
        slug = string(data, "category", errors, nullable=True)
        values.category_id = None
        if slug:
            try:
                values.category_id = taxonomy.get_category(slug).id
            except NotFound:
                errors["category"] = ["There is no category with this slug."]
    if "published_at" in data:
        value = string(data, "published_at", errors, nullable=True)
        values.publish_at = None
        if value is not None:
            values.publish_at = parse_time(value)
            if values.publish_at is None:
                errors["published_at"] = ["Use an ISO-8601 date and time, e.g. 2030-05-01T09:00:00Z."]
    if "kind" in data:
        value = string(data, "kind", errors)
        if value is not None:
            values.kind = value  # the service checks it is "post" or "page" (and who may write pages)
    if "nav_order" in data:
        value = data["nav_order"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 <= value <= MAX_NAV_ORDER):
            errors["nav_order"] = [f"Must be a whole number from 0 to {MAX_NAV_ORDER:,}, or null (not in the menu)."]
        else:
            values.nav_order = value
    if errors:
        raise Invalid("Some fields are not valid; nothing was saved.", errors)
    return values


def api_fields(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """A service's field errors under the names the API uses."""
    return {_API_NAMES.get(name, name): messages for name, messages in errors.items()}


def post_base(post: Post) -> PostInput:
    """What ``post`` holds now, as input: PATCH starts from it."""
    return PostInput(title=post.title, body=post.body, summary=post.summary, tags=[tag.name for tag in post.tags],
                     category_id=post.category_id, status=post.status,
                     publish_at=post.published_at if post.status == "scheduled" else None,
                     slug=post.slug, comments_enabled=post.comments_enabled, kind=post.kind,
                     nav_order=post.nav_order)


def _int_arg(name: str, default: int, errors: dict[str, list[str]], maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # Plain ASCII digits only: int() would also take " 5", "1_000" and other scripts' digits.
    value = int(raw) if _DIGITS.fullmatch(raw) else 0
    if value < 1 or (maximum is not None and value > maximum):
        errors[name] = [f"Must be a whole number from 1 to {maximum:,}." if maximum else "Must be a whole number, 1 or more."]
    return value


def page_args() -> tuple[int, int]:
    """``page`` and ``per_page`` from the query string (per_page capped at 100). Raises Invalid."""
    errors: dict[str, list[str]] = {}
    page = _int_arg("page", 1, errors, maximum=MAX_PAGE)
    per_page = _int_arg("per_page", current_app.config["POSTS_PER_PAGE"], errors)
    if errors:
        raise Invalid("The paging parameters are not valid.", errors)
    return page, min(per_page, MAX_PER_PAGE)


def text_arg(name: str) -> str:
    """A query-string value; NUL characters (which no database stores) make it a 422."""
    value = request.args.get(name, "")
    if "\x00" in value:
        raise Invalid("The query is not valid.", {name: ["Must be valid text, without NUL characters."]})
    return value.strip()


def path_arg(value: str, missing: str = "There is no post at this address.") -> str:
    """A slug or name from the path; one with a NUL character (no database stores it) cannot exist."""
    if "\x00" in value:
        raise NotFound(missing)
    return value


# --- writing responses --------------------------------------------------------------------

def absolute(path: str) -> str:
    """``path`` on SITE_URL, for links that leave the API (feeds and mail do the same)."""
    return current_app.config["SITE_URL"] + path


def timestamp(moment: datetime | None) -> str | None:
    """Naive UTC as ISO-8601 with a Z, to the second."""
    return moment.replace(microsecond=0).isoformat() + "Z" if moment else None


def author_json(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"username": user.username, "url": absolute(url_for("users.profile", username=user.username))}


def post_json(post: Post, comment_count: int) -> dict:
    """The post object of DESIGN.md."""
    cover = media.cover_urls(post)
    return {
        "id": post.id,
        "slug": post.slug,
        "url": absolute(url_for("pages.page", slug=post.slug) if post.kind == "page"
                        else url_for("posts.detail", slug=post.slug)),
        "kind": post.kind,
        "nav_order": post.nav_order,
        "title": post.title,
        "summary": post.summary,
        "body": post.body,
        "html": post.html,
        "status": post.status,
        "tags": [tag.name for tag in post.tags],
        "category": post.category.slug if post.category else None,
        "author": author_json(post.author),
        "cover_image": absolute(cover["src"]) if cover else None,
        "cover_alt": post.cover_alt or "",
        "reading_time": post.reading_time,
        "views": post.views,
        "comment_count": comment_count,
        "created_at": timestamp(post.created_at),
        "updated_at": timestamp(post.updated_at),
        "published_at": timestamp(post.published_at),
    }


def page_json(items: list[Post], *, page: int, per_page: int, total: int, pages: int) -> dict:
    """A page of posts in the list envelope; bodies and comment counts in two queries for the page."""
    load_bodies(items)
    counts = comment_counts([post.id for post in items])
    return {"items": [post_json(post, counts.get(post.id, 0)) for post in items],
            "page": page, "per_page": per_page, "total": total, "pages": pages}


def pagination_json(found: Pagination) -> dict:
    return page_json(list(found.items), page=found.page, per_page=found.per_page, total=found.total or 0,
                     pages=found.pages)


def comment_json(comment: Comment, parent_id: int | None, *, status: str | None = None) -> dict:
    """A comment; a removed one keeps its place in the thread without its text or author."""
    removed = comment.is_removed
    return {
        "id": comment.id,
        "parent_id": parent_id,
        "author": None if removed else author_json(comment.author),
        "body": "" if removed else comment.body,
        "html": "" if removed else comment.html,
        "status": status or comment.status,
        "removed": removed,
        "created_at": timestamp(comment.created_at),
    }


def user_json(user: User, post_count: int) -> dict:
    """A public profile: what /user/<username> shows, nothing private (no email)."""
    avatar = media.avatar_url(user, 256)
    return {
        "username": user.username,
        "url": absolute(url_for("users.profile", username=user.username)),
        "role": user.role,
        "bio": user.bio,
        "links": {name: url for name, url in (user.social_links or {}).items()
                  if isinstance(url, str) and url.startswith(("https://", "http://"))},
        "avatar": absolute(avatar) if avatar else None,
        "post_count": post_count,
        "created_at": timestamp(user.created_at),
    }


def respond(payload: dict, status: int = 200, *, last_modified: datetime | None = None) -> Response:
    """JSON with a strong ETag computed from the exact bytes sent; 304 when If-None-Match has it.

    The body holds ``updated_at``, the ids, the counts and the views, so any change to any of them
    gives a new tag. If-Modified-Since alone never answers 304: comment counts and views change
    without touching a post's ``updated_at``.
    """
    response = jsonify(payload)
    response.status_code = status
    etag = hashlib.sha256(response.get_data()).hexdigest()[:32]
    response.set_etag(etag)
    if last_modified is not None:
        response.last_modified = last_modified.replace(tzinfo=UTC)
    # Drafts and pending comments differ by caller: shared caches must not keep them; clients revalidate.
    response.headers["Cache-Control"] = "private, no-cache"
    vary(response, "Authorization")
    if status == 200 and request.if_none_match.contains_weak(etag):
        not_modified = Response(status=304)
        for header in ("ETag", "Last-Modified", "Cache-Control", "Vary"):
            if header in response.headers:
                not_modified.headers[header] = response.headers[header]
        return not_modified
    return response


# --- reads for a page of posts --------------------------------------------------------------
# Listings leave bodies in the database and count comments per post; a page of API posts needs both,
# so they are fetched for the whole page at once instead of one query per post.

def load_bodies(items: list[Post]) -> None:
    """Fill in ``body`` and ``html`` of posts loaded without them, in one query."""
    missing = {post.id: post for post in items if "body" in inspect(post).unloaded}
    if not missing:
        return
    rows = db.session.execute(select(Post.id, Post.body, Post.html).where(Post.id.in_(missing)))
    for post_id, body, html in rows:
        set_committed_value(missing[post_id], "body", body)
        set_committed_value(missing[post_id], "html", html)


def comment_counts(post_ids: list[int]) -> dict[int, int]:
    """Approved, not removed comments per post (what ``comments.approved_count`` counts for one)."""
    if not post_ids:
        return {}
    rows = db.session.execute(
        select(Comment.post_id, func.count()).where(Comment.post_id.in_(post_ids), Comment.status == "approved",
                                                    Comment.deleted_at.is_(None))
        .group_by(Comment.post_id))
    return {post_id: count for post_id, count in rows}


# --- administration (issue 13): users for admins, the comment queue for moderators ------------

USER_PATCH_FIELDS = ("role", "active")
COMMENT_PATCH_FIELDS = ("status",)
#: What a moderator may set a comment to over the API, and the action that sets it.
MODERATION_STATUSES = {"approved": "approve", "rejected": "reject", "spam": "spam"}


def choice_arg(name: str, allowed: tuple[str, ...], default: str = "") -> str:
    """A query-string value that must be one of ``allowed`` (or absent: ``default``). Raises Invalid."""
    value = text_arg(name)
    if not value:
        return default
    if value not in allowed:
        raise Invalid("The query is not valid.", {name: [f"Must be one of: {', '.join(allowed)}."]})
    return value


def boolean(data: dict, name: str, errors: dict[str, list[str]]) -> bool | None:
    """``data[name]`` as true/false (None when absent); anything else is an error."""
    if name not in data:
        return None
    value = data[name]
    if not isinstance(value, bool):
        errors[name] = ["Must be true or false."]
        return None
    return value


def admin_user_json(user: User, posts: int, comments: int) -> dict:
    """A user as admins see them: the public profile's name and role, and the account's state."""
    return {
        "username": user.username,
        "url": absolute(url_for("users.profile", username=user.username)),
        "email": user.email,
        "role": user.role,
        "active": bool(user.is_active),
        "email_confirmed": bool(user.email_confirmed),
        "post_count": posts,
        "comment_count": comments,
        "created_at": timestamp(user.created_at),
    }


def moderation_comment_json(comment: Comment) -> dict:
    """A comment in the moderation queue: any status, with the post it is on."""
    removed = comment.is_removed
    return {
        "id": comment.id,
        "post": {"slug": comment.post.slug, "title": comment.post.title,
                 "url": absolute(url_for("posts.detail", slug=comment.post.slug))},
        "parent_id": comment.parent_id,
        "author": author_json(comment.author),
        "body": "" if removed else comment.body,
        "html": "" if removed else comment.html,
        "status": comment.status,
        "removed": removed,
        "created_at": timestamp(comment.created_at),
    }


def list_json(items: list[dict], found: Pagination) -> dict:
    """The list envelope of DESIGN.md around already-written items."""
    return {"items": items, "page": found.page, "per_page": found.per_page, "total": found.total or 0,
            "pages": found.pages}
