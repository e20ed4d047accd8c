"""Adding, replying to and moderating comments on the post page; htmx updates them in place."""
from __future__ import annotations

from flask import Response
from flask import abort
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user

from blog.auth.forms import apply_errors
from blog.comments import bp
from blog.comments.forms import CommentForm
from blog.extensions import htmx
from blog.extensions import limiter
from blog.permissions import verified_required
from blog.rendering import redirect_to
from blog.rendering import render
from blog.rendering import wants_fragment
from blog.services import comments
from blog.services import posts
from blog.services import reading
from blog.services.errors import Invalid
from blog.services.errors import NotFound

TEMPLATE = "posts/detail.html"


def new_form(parent_id: int | None = None) -> CommentForm:
    """A fresh comment form with a new signed token."""
    form = CommentForm(formdata=None, parent_id=parent_id)
    form.token.data = comments.form_token()
    return form


def _user_key() -> str:
    return f"user:{current_user.get_id()}"


@bp.get("/blog/<slug>/comments")
def thread(slug: str) -> Response:
    """The comment thread as a fragment; a plain visit goes to the post's comments."""
    post = posts.get_readable(slug, current_user)
    cpage = comments.requested_page(post, current_user)
    if not wants_fragment():
        return redirect(url_for("posts.detail", slug=slug, _anchor="comments", cpage=cpage))
    return render(TEMPLATE, block="comments", post=post, thread=comments.thread(post, current_user, cpage),
                  form=new_form() if current_user.is_authenticated else None,  # guests: no session, no cookie
                  reply_to=None, reply_form=None)


@bp.get("/comments/<int:comment_id>")
def permalink(comment_id: int) -> Response:
    """A comment's lasting address (mail, the admin queue, the sidebar): the thread page that shows it.

    Threads are paginated, so ``/blog/<slug>#comment-ID`` is not enough once a comment is on an
    older page; this redirects to ``/blog/<slug>?cpage=N#comment-ID`` for whoever follows it.
    """
    comment = comments.get(comment_id)
    posts.get_visible(comment.post.slug, current_user, light=True)  # a draft's comments stay hidden (404)
    return redirect(comments.url_for_comment(comment, current_user))


def _comment_url(comment_id: int, slug: str) -> str:
    """The post page showing comment ``comment_id`` (its thread page and anchor), or the post's comments."""
    try:
        comment = comments.get(comment_id)
    except NotFound:
        return url_for("posts.detail", slug=slug, _anchor="comments")
    return comments.url_for_comment(comment, current_user)


@bp.get("/blog/<slug>/comments/count")
def count(slug: str) -> Response:
    """The comment count on its own (polled every 30 s by the post page): one COUNT query."""
    post = posts.get_visible(slug, current_user, light=True)
    if not wants_fragment():  # a plain visit (no htmx) sees the count where it belongs
        return redirect(url_for("posts.detail", slug=slug, _anchor="comments"))
    return render(TEMPLATE, block="comment_count", post=post, comment_total=comments.approved_count(post.id))


@bp.get("/blog/<slug>/comments/<int:parent_id>/reply")
@verified_required
def reply_form(slug: str, parent_id: int) -> Response:
    """A reply form under a comment (htmx); without JS the post page draws it in place.

    ``?cancel=1`` closes it again: htmx gets an empty slot, a plain visit goes back to the comment.
    """
    post = posts.get_visible(slug, current_user)
    cancel = request.args.get("cancel") == "1"
    if not wants_fragment():
        if cancel:
            return redirect(_comment_url(parent_id, slug))
        # No #fragment: it would stop the browser from focusing the box (autofocus scrolls to it).
        return redirect(url_for("posts.detail", slug=slug, reply_to=parent_id))
    if cancel:
        return render(TEMPLATE, block="gone", post=post)
    return render(TEMPLATE, block="reply_form", post=post, form=new_form(parent_id), parent_id=parent_id,
                  replying_to=_author_name(parent_id))


def _author_name(comment_id: int | None) -> str | None:
    """Who wrote the comment a reply answers (for the reply box's label), if it still exists."""
    if not comment_id:
        return None
    try:
        parent = comments.get(comment_id)
    except NotFound:  # the form itself reports a bad parent
        return None
    return parent.author.username if parent.author else None


@bp.post("/blog/<slug>/comments")
@verified_required
@limiter.limit("10/hour", key_func=_user_key)
def create(slug: str) -> Response:
    """Add a comment or a reply; htmx gets the new comment in place, forms get PRG and a flash."""
    post = posts.get_visible(slug, current_user)
    form = CommentForm()
    parent_id = form.parent_id.data
    try:
        if not form.validate():
            raise Invalid("Check the comment.", {})
        outcome = comments.add(post, by=current_user, body=form.body.data or "", parent_id=parent_id,
                               token=form.token.data or "", honeypot=form.website.data or "")
    except Invalid as error:
        apply_errors(form, error.fields or ({"body": [error.message]} if error.message else {}))
        return _form_errors(post, form)
    message = ("Your comment is published." if outcome.published
               else "Thank you: your comment will appear once a moderator approves it.")
    if not htmx:
        flash(message)
        return redirect_to(comments.url_for_comment(outcome.comment, current_user))
    return render(TEMPLATE, block="new_comment", oob=("comment_count", "form_reset", "pending_count"), post=post,
                  comment=outcome.comment, published=outcome.published, message=message, parent_id=parent_id,
                  comment_total=comments.approved_count(post.id), form=new_form(parent_id))


def _form_errors(post, form: CommentForm) -> Response:
    """The form again with its errors and the typed text: in place for htmx, the whole page otherwise."""
    form.token.data = form.token.data or comments.form_token()
    if htmx:
        target = f"#reply-form-{form.parent_id.data}" if form.parent_id.data else "#comment-form"
        response = render(TEMPLATE, block="comment_form_block", status=422, post=post, form=form,
                          parent_id=form.parent_id.data, replying_to=_author_name(form.parent_id.data))
        response.headers["HX-Retarget"] = target
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    from blog.auth.forms import ConfirmForm

    # A reply's errors show under its parent, unless the parent itself is the problem.
    reply_to = form.parent_id.data if not form.parent_id.errors else None
    cpage = comments.requested_page(post, current_user, reply_to=reply_to)
    return render(TEMPLATE, status=422, post=post, thread=comments.thread(post, current_user, cpage),
                  form=new_form() if reply_to else form, reply_to=reply_to, reply_form=form if reply_to else None,
                  delete_form=ConfirmForm(), around=reading.Around(post))


@bp.post("/comments/<int:comment_id>/<action>")
@verified_required
def moderate(comment_id: int, action: str) -> Response:
    """Approve, reject or mark spam from the post page (moderators and the post's author)."""
    if action not in comments.MODERATION:
        abort(404)
    comment = comments.get(comment_id)
    comments.moderate(comment, action, by=current_user)
    return _after_change(comment)


@bp.post("/comments/<int:comment_id>/delete")
@verified_required
def delete(comment_id: int) -> Response:
    """Delete a comment (its writer, a moderator or the post's author)."""
    comment = comments.get(comment_id)
    post = comment.post
    remaining = comments.delete(comment, by=current_user)
    if remaining is None and htmx:
        response = render(TEMPLATE, block="gone", oob=("comment_count", "pending_count"), post=post,
                          comment_total=comments.approved_count(post.id))
        response.headers["HX-Retarget"] = f"#comment-{comment_id}"  # the whole comment goes
        response.headers["HX-Reswap"] = "delete"
        return response
    return _after_change(remaining or comment, post=post)


def _after_change(comment, post=None) -> Response:
    post = post or comment.post
    if not htmx:
        flash({"approved": "Comment approved.", "rejected": "Comment rejected.",
               "spam": "Comment marked as spam."}.get(comment.status, "Comment removed."))
        return redirect_to(_comment_url(comment.id, post.slug))
    return render(TEMPLATE, block="comment_main_block", oob=("comment_count", "pending_count"), post=post,
                  comment=comment, comment_total=comments.approved_count(post.id))
