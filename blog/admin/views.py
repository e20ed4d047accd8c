"""Administration pages: the dashboard, the category tree and the comment moderation queue."""
from __future__ import annotations

from urllib.parse import parse_qsl
from urllib.parse import urlsplit

from flask import Response
from flask import abort
from flask import flash
from flask import make_response
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from blog.admin import bp
from blog.admin.forms import BulkModerationForm
from blog.admin.forms import CategoryForm
from blog.admin.forms import QUEUE_STATUSES
from blog.admin.forms import CommentFilterForm
from blog.auth.forms import apply_errors
from blog.models import Comment
from blog.permissions import role_required
from blog.rendering import page_number
from blog.rendering import redirect_to
from blog.rendering import render
from blog.rendering import wants_fragment
from blog.services import accounts
from blog.services import comments
from blog.services import stats
from blog.services import taxonomy
from blog.services.errors import Invalid


@bp.get("/")
@role_required("moderator")
def dashboard() -> Response:
    """Queues first, then counts that link to what they count, 30-day charts and the week's most-read posts.

    Moderators see the moderation parts; admins everything.
    """
    admin = current_user.has_role("admin")
    return render("admin/dashboard.html", counts=stats.site_counts(),
                  charts=stats.charts(admin=admin), most_read=stats.most_read(), admin=admin)


@bp.get("/categories")
@role_required("admin")
def categories() -> Response:
    """The category tree with post counts; add, rename, move and delete categories."""
    return _categories_page()


@bp.post("/categories")
@role_required("admin")
def create_category() -> Response:
    """Add a category."""
    form = CategoryForm(prefix="new", choices=taxonomy.category_choices())
    if form.validate_on_submit():
        try:
            category = taxonomy.create_category(form.name.data, form.parent_id.data, form.description.data)
        except Invalid as error:
            apply_errors(form, error.fields or {"name": [error.message]})
        else:
            return _saved(f"Added the category “{category.name}”.")
    return _categories_page(status=422, create_form=form)


@bp.post("/categories/<int:category_id>")
@role_required("admin")
def update_category(category_id: int) -> Response:
    """Rename, re-describe or move a category (its address stays the same)."""
    category = taxonomy.get_category_by_id(category_id)
    form = CategoryForm(prefix=_prefix(category_id), choices=taxonomy.category_choices(exclude=category_id))
    if form.validate_on_submit():
        try:
            taxonomy.update_category(category, name=form.name.data, parent_id=form.parent_id.data,
                                     description=form.description.data)
        except Invalid as error:
            apply_errors(form, error.fields or {"name": [error.message]})
        else:
            return _saved(f"Saved the category “{category.name}”.")
    return _categories_page(status=422, edit_form=(category_id, form))


@bp.post("/categories/<int:category_id>/delete")
@role_required("admin")
def delete_category(category_id: int) -> Response:
    """Delete an empty category."""
    category = taxonomy.get_category_by_id(category_id)
    name = category.name  # read now: the row is gone after the delete
    try:
        taxonomy.delete_category(category)
    except Invalid as error:
        return _categories_page(status=422, row_errors={category_id: [error.message]})
    return _saved(f"Deleted the category “{name}”.")


def _saved(message: str) -> Response:
    """After a change: htmx swaps the updated tree in place; a plain form post is redirected (PRG)."""
    flash(message)
    if wants_fragment():
        return _categories_page()
    return redirect_to(url_for("admin.categories"))


def _prefix(category_id: int) -> str:
    """Each row's form has its own field names and ids (``category-7-name``), so labels stay unique."""
    return f"category-{category_id}"


def _categories_page(status: int = 200, create_form: CategoryForm | None = None,
                     edit_form: tuple[int, CategoryForm] | None = None,
                     row_errors: dict[int, list[str]] | None = None) -> Response:
    """The page, or its ``tree`` block for htmx: fresh forms everywhere but the one that failed."""
    tree = taxonomy.category_overview()
    choices = [(node.id, node.label) for node in taxonomy.iter_tree(tree)]
    edit_forms = {}
    for node in taxonomy.iter_tree(tree):
        own = node.subtree_ids()  # a category cannot move under itself: not offered
        edit_forms[node.id] = CategoryForm(formdata=None, obj=node, prefix=_prefix(node.id),
                                           choices=[choice for choice in choices if choice[0] not in own])
    if edit_form is not None:
        edit_forms[edit_form[0]] = edit_form[1]
    return render("admin/categories.html", block="tree", status=status, tree=tree, edit_forms=edit_forms,
                  create_form=create_form or CategoryForm(formdata=None, prefix="new", choices=choices),
                  row_errors=row_errors or {})


# --- the comment moderation queue ----------------------------------------------------------

#: Comments per page of the queue.
#: What the flash messages say was done, per action ("{}" is what it was done to).
DONE = {"approve": "Approved {}.", "reject": "Rejected {}.", "spam": "Marked {} as spam."}


@bp.get("/comments", endpoint="comments")
@role_required("author")
def moderation_queue() -> Response:
    """Comments to moderate, newest first: everyone's for moderators, their posts' for authors."""
    return _queue_page(request.args, select_all=request.args.get("select") == "all")


@bp.post("/comments/<int:comment_id>/<any(approve, reject, spam):action>")
@role_required("author")
def moderate_comment(comment_id: int, action: str) -> Response:
    """Approve, reject or mark as spam one comment; with htmx its row leaves a list it no longer matches.

    ``status`` (the list the row was shown in) guards against acting on a comment someone else
    changed a moment ago: then nothing changes and the row comes back in its current state.
    """
    comment = _moderatable(comment_id)
    listed = _listed_status()
    outcome = comments.moderate_many([comment_id], action, by=current_user, expected=listed)
    comment = comments.get(comment_id)
    if outcome.done:
        message = DONE[action].format(f"the comment by {_author_name(comment)}")
    else:
        message = f"Not changed: the comment by {_author_name(comment)} is {comment.status} now."
    if wants_fragment():
        if outcome.done and listed and comment.status != listed:  # no longer what this list shows
            return _with_pending_count(render("admin/comments.html", block="comment_done", comment=comment,
                                              message=message, back=_back()))
        return _with_pending_count(render("admin/comments.html", block="comment_row", comment=comment,
                                          back=_back(), select_all=False, listed=listed, message=None if outcome.done else message))
    flash(message)
    return redirect_to(_back())


def _listed_status() -> str | None:
    """The status of the list a form was posted from (None when it came from elsewhere)."""
    status = request.form.get("status")
    return status if status in QUEUE_STATUSES else None


@bp.post("/comments/<int:comment_id>/delete")
@role_required("author")
def delete_comment(comment_id: int) -> Response:
    """Delete a comment; with htmx its row goes (or reads "comment removed" when it has replies)."""
    comment = _moderatable(comment_id)
    author = _author_name(comment)
    kept = comments.delete(comment, by=current_user)
    if wants_fragment():
        if kept is None:  # an empty 200: htmx swaps the row for nothing
            return _with_pending_count(make_response(""))
        return _with_pending_count(render("admin/comments.html", block="comment_row", comment=kept,
                                          back=_back(), select_all=False, listed=_listed_status(), message=None))
    flash(f"Deleted the comment by {author}.")
    return redirect_to(_back())


@bp.post("/comments/bulk")
@role_required("author")
def bulk_moderate() -> Response:
    """Apply one action to the ticked comments; htmx swaps the whole queue, a plain post goes back to it."""
    form = BulkModerationForm()
    if not form.validate_on_submit():
        abort(400, "Choose approve, reject or spam, for comments given by number.")
    ids = list(dict.fromkeys(form.ids.data or []))
    if ids:
        outcome = comments.moderate_many(ids, form.action.data, by=current_user, expected=_listed_status())
        message = DONE[form.action.data].format(_comments(len(outcome.done)))
        if outcome.skipped:
            message += f" Left alone: {comments.describe_skipped(outcome.skipped)}."
        flash(message)
    else:
        flash("Tick the comments to act on first.")
    back = _back()
    if wants_fragment():
        return _with_pending_count(_queue_page(MultiDict(parse_qsl(urlsplit(back).query))))
    return redirect_to(back)


def _moderatable(comment_id: int) -> Comment:
    """The comment, if the current user moderates its post: 404 when missing, 403 when not theirs."""
    comment = comments.get(comment_id)
    if not comments.can_moderate(current_user, comment.post):
        abort(403, "Only moderators and the post's author moderate its comments.")
    return comment


def _back() -> str:
    """Where the form came from (the queue with its filters), if that is a path on this site."""
    return accounts.safe_next(request.form.get("next")) or url_for("admin.comments")


def _author_name(comment: Comment) -> str:
    """Who wrote it, for messages (authors may have deleted their account)."""
    return comment.author.username if comment.author else "a deleted user"


def _comments(number: int) -> str:
    """Say "1 comment" or "12 comments"."""
    return f"{number} comment{'' if number == 1 else 's'}"


def _with_pending_count(response: Response) -> Response:
    """Add the nav's pending counter, out of band, so it follows the change without a reload."""
    response.set_data(response.get_data(as_text=True) + render_template("_pending_count.html", oob=True))
    return response


def _queue_page(args: MultiDict, select_all: bool = False) -> Response:
    """The queue page for the filters in ``args`` (status, post, page), or its ``queue`` block for htmx."""
    filters = CommentFilterForm(args)
    query = {"status": filters.status.data, "post": filters.post.data or None}  # for every link on the page
    page = comments.queue(current_user, filters.status.data, filters.post.data, page_number(args=args))
    filters.offer_posts(comments.queue_posts(current_user, filters.status.data, filters.post.data, page.items))
    back = url_for("admin.comments", page=page.page if page.page > 1 else None, **query)
    return render("admin/comments.html", block="queue", page=page, filters=filters, query=query, back=back,
                  select_all=select_all, listed=filters.status.data, message=None)
