"""Comments over the API: the approved thread, and new comments through the same moderation as the web form."""
from __future__ import annotations

from flask import Response

from blog.api import auth
from blog.api import bp
from blog.api import schemas
from blog.extensions import limiter
from blog.services import comments
from blog.services import posts
from blog.services.comments import ThreadNode
from blog.models.comment import COMMENT_STATUSES
from blog.services.errors import Invalid
from blog.services.errors import NotAllowed
from blog.services.errors import NotFound


def _commenter_key() -> str:
    # DESIGN: comments 10/hour per user; a request without a valid token counts against its address.
    token = auth.valid_token()
    return f"commenter:{token.user_id}" if token is not None else auth.rate_key()


@bp.get("/posts/<slug>/comments")
def list_comments(slug: str) -> Response:
    """The approved comments of a post, oldest thread first; replies follow their parent and name it in ``parent_id``."""
    post = posts.get_visible(schemas.path_arg(slug), auth.user())
    # No viewer: approved comments only, as everyone sees them; all of them (the web pages them).
    thread = comments.thread(post, paginate=False)
    shown: set[int] = set()
    items: list[dict] = []

    def walk(nodes: list[ThreadNode]) -> None:
        for node in nodes:
            comment = node.comment
            shown.add(comment.id)
            # The real parent (the web nests at most three deep, but clients may nest as they like).
            items.append(schemas.comment_json(comment, comment.parent_id if comment.parent_id in shown else None))
            walk(node.replies)

    walk(thread.roots)
    return schemas.respond({"items": items, "comment_count": thread.count})


@bp.post("/posts/<slug>/comments")
@limiter.limit("10/hour", key_func=_commenter_key, override_defaults=False,
               error_message="You have commented a lot in the last hour; please wait a little.")
def create_comment(slug: str) -> Response:
    """Comment on a post, or reply with ``parent_id``; it may wait for a moderator ("pending")."""
    user = auth.required()  # the service itself refuses unverified addresses, with the web's message
    post = posts.get_visible(schemas.path_arg(slug), user)
    data = schemas.json_body()
    errors = schemas.unknown(data, schemas.COMMENT_FIELDS)
    body = schemas.string(data, "body", errors)
    parent_id = schemas.identifier(data, "parent_id", errors)
    if errors:
        raise Invalid("Some fields are not valid; nothing was saved.", errors)
    outcome = comments.add(post, by=user, body=body or "", parent_id=parent_id, via_api=True)
    # Spam is not announced as such: like the web form, it just "waits for a moderator".
    status = "approved" if outcome.published else "pending"
    return schemas.respond(schemas.comment_json(outcome.comment, parent_id, status=status), 201)


# --- the moderation queue (moderators, and a post's author for its comments) -----------------

@bp.get("/comments")
def moderation_queue() -> Response:
    """Comments in ``status`` (default pending), newest first: all for moderators, their posts' for authors."""
    caller = auth.required()
    if not caller.has_role("author"):
        raise NotAllowed("Only moderators, and authors for their own posts, moderate comments.")
    page, per_page = schemas.page_args()
    status = schemas.choice_arg("status", COMMENT_STATUSES, default="pending")
    found = comments.queue(caller, status, schemas.text_arg("post"), page, per_page=per_page)
    if page > 1 and page > found.page:  # as for posts: a page past the last one does not exist
        raise NotFound("There is no such page of comments.")
    return schemas.respond(schemas.list_json([schemas.moderation_comment_json(c) for c in found.items], found))


@bp.patch("/comments/<id>")
def moderate_comment(id: str) -> Response:  # noqa: A002 - the documented path parameter's name
    """Set a comment's status to approved, rejected or spam; answers the comment as it now is."""
    caller = auth.required()
    if not (id.isascii() and id.isdigit()) or len(id) > 10:
        raise NotFound("There is no such comment.")
    comment_id = int(id)
    comment = comments.get(comment_id)
    if not comments.can_moderate(caller, comment.post):
        raise NotAllowed("Only moderators and the post's author moderate its comments.")
    data = schemas.json_body()
    errors = schemas.unknown(data, schemas.COMMENT_PATCH_FIELDS)
    status = schemas.string(data, "status", errors)
    if "status" not in errors and status not in schemas.MODERATION_STATUSES:
        errors["status"] = [f"Must be one of: {', '.join(schemas.MODERATION_STATUSES)}."]
    if errors:
        raise Invalid("Some fields are not valid; nothing was changed.", errors)
    # Setting the status it already has changes nothing and answers the comment as it is.
    comments.moderate_many([comment_id], schemas.MODERATION_STATUSES[status], by=caller)
    return schemas.respond(schemas.moderation_comment_json(comments.get(comment_id)))
