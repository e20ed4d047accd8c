"""Posts over the API: the same services, and so the same rules, as the editor on the web."""
from __future__ import annotations

from flask import Response
from flask import url_for

from blog.api import auth
from blog.api import bp
from blog.api import schemas
from blog.extensions import db
from blog.models import Post
from blog.models import User
from blog.models.post import STATUSES
from blog.services import comments
from blog.services import fulltext
from blog.services import posts
from blog.services import review
from blog.services import taxonomy
from blog.services.errors import Conflict
from blog.services.errors import Invalid
from blog.services.errors import NotFound
from blog.services.posts import PostInput


@bp.get("/posts")
def list_posts() -> Response:
    """Published posts, newest first, by page; filtered by tag or category slug, or searched with ``q``.

    Moderators may ask for another ``status`` (``pending``: the review queue, longest-waiting first).
    """
    caller = auth.user()  # a bad token is a 401 even where guests may read
    page, per_page = schemas.page_args()
    status = schemas.choice_arg("status", STATUSES, default="published")
    tag_slug, category_slug, q = schemas.text_arg("tag"), schemas.text_arg("category"), schemas.text_arg("q")
    if status != "published":
        return _by_status(caller, status, page, per_page, category_slug, tag_slug or q)
    tag = taxonomy.get_tag(tag_slug) if tag_slug else None
    category = taxonomy.get_category(category_slug) if category_slug else None
    if q:
        found = fulltext.search(q, page=page, per_page=per_page, tag=tag and tag.slug,
                                category=category and category.slug)
        if page > 1 and not found.items:  # as for listings: a page past the last one does not exist
            raise NotFound("There is no such page of results.")
        payload = schemas.page_json(list(found.items), page=found.page, per_page=found.per_page,
                                    total=found.total, pages=found.pages)
    else:
        payload = schemas.pagination_json(posts.published(page, per_page, tag=tag, category=category))
    return schemas.respond(payload)


def _by_status(caller: User | None, status: str, page: int, per_page: int, category_slug: str,
               searched: str) -> Response:
    """Moderators' view of the posts in ``status`` (any author), as the review queue orders them."""
    if caller is None:
        raise auth.unauthorized(auth.NO_TOKEN)
    review.check_reviewer(caller)
    if searched:
        raise Invalid("tag and q search published posts only.",
                      {"status": ["Leave out tag and q, or ask for published posts."]})
    category = taxonomy.get_category(category_slug) if category_slug else None
    found = review.listing(caller, review.Filters(status=status, category=category.id if category else None),
                           page, per_page, with_tags=True)
    if page > 1 and page > found.page:
        raise NotFound("There is no such page of posts.")
    return schemas.respond(schemas.pagination_json(found))


@bp.post("/posts")
def create_post() -> Response:
    """Write a post; a reader's "published" post waits for a moderator as "pending"."""
    user = auth.writer()
    data = schemas.json_body()
    post = _save(schemas.post_input(data, PostInput(title="", body="")), by=user)
    response = schemas.respond(_json(post), 201)
    response.headers["Location"] = url_for("api.get_post", slug=post.slug)
    return response


@bp.get("/posts/<slug>")
def get_post(slug: str) -> Response:
    """One post; drafts are 404 to anyone but their author and moderators."""
    post = posts.get_visible(schemas.path_arg(slug), auth.user())
    return schemas.respond(_json(post), last_modified=post.updated_at)


@bp.put("/posts/<slug>")
def replace_post(slug: str) -> Response:
    """Replace a post: fields left out take their defaults, as on a new post."""
    user, post = _editable(slug)
    data = schemas.json_body()
    # A post stays a post (a page a page) and keeps its menu place unless the body says otherwise.
    fresh = PostInput(title="", body="", comments_enabled=post.comments_enabled, kind=post.kind,
                      nav_order=post.nav_order)
    return schemas.respond(_json(_save(schemas.post_input(data, fresh), by=user, post=post)))


@bp.patch("/posts/<slug>")
def update_post(slug: str) -> Response:
    """Change some fields of a post; the others stay as they are.

    Concurrent PATCHes of one post run one after the other, each on the latest version (a
    409 only if the post changed under a lock-free save, such as the web editor's).
    """
    user, post = _editable(slug)
    data = schemas.json_body()
    post = posts.lock_for_patch(post)
    return schemas.respond(_json(_save(schemas.post_input(data, schemas.post_base(post)), by=user, post=post)))


@bp.delete("/posts/<slug>")
def delete_post(slug: str) -> Response:
    """Delete a post with its comments."""
    user, post = _editable(slug)
    # posts.delete removes the tag links with one DELETE; a tags collection already loaded in the
    # session would make the flush delete them a second time (StaleDataError). Unload it first.
    db.session.expire(post, ["tags"])
    posts.delete(post, by=user)
    return Response(status=204)


def _editable(slug: str) -> tuple[User, Post]:
    """The caller and the post they want to change: 404 when they cannot see it, 403 when not theirs."""
    user = auth.writer()
    slug = schemas.path_arg(slug)
    posts.get_visible(slug, user)  # someone else's draft is a 404: a 403 would tell it exists
    return user, posts.get_for_edit(slug, user)


def _save(data: PostInput, *, by: User, post: Post | None = None) -> Post:
    """Validate with the service's rules (422), refuse a slug another post holds (409), then save.

    Raises:
        Invalid: a field breaks a rule; ``fields`` uses the API's names.
        Conflict: the requested slug belongs to another post (the web editor would add "-2" instead).
    """
    errors = posts.validate(data, by=by, post=post)
    # The header menu is the admins' to arrange: anyone else asking to move a page is told so.
    if data.nav_order != (post.nav_order if post else None) and not by.has_role("admin"):
        errors["nav_order"] = ["Only admins place pages in the header menu."]
    elif data.nav_order is not None and data.kind != "page":
        errors["nav_order"] = ["Only a page has a place in the header menu."]
    if errors:
        raise Invalid("The post has problems; nothing was saved.", schemas.api_fields(errors))
    # The service's own notion of a taken slug (other posts and their old addresses).
    if data.slug and posts._unique_slug(data.slug, post.id if post else None) != data.slug:
        raise Conflict(f"Another post already uses the slug “{data.slug}”.")
    try:
        return posts.save(data, by=by, post=post)
    except Invalid as error:
        raise Invalid(error.message, schemas.api_fields(error.fields)) from None


def _json(post: Post) -> dict:
    return schemas.post_json(post, comments.approved_count(post.id))
