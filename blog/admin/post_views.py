"""/admin/posts: every post by status, the review queue first; publish, send back, archive, delete."""
from __future__ import annotations

from urllib.parse import parse_qsl
from urllib.parse import urlsplit

from flask import Response
from flask import abort
from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from blog.admin import bp
from blog.admin.forms import PostActionForm
from blog.admin.forms import PostFilterForm
from blog.permissions import role_required
from blog.rendering import redirect_to
from blog.rendering import render
from blog.rendering import wants_fragment
from blog.services import accounts
from blog.services import activity
from blog.services import clock
from blog.services import review
from blog.services import taxonomy
from blog.services.errors import Invalid

ACTIONS = ("publish", "send_back", "archive", "delete")


@bp.get("/posts")
@role_required("moderator")
def posts() -> Response:
    """Every post, by status tab (pending first), searchable by title and filtered by author and category."""
    return _posts_page(request.args)


@bp.post("/posts/<int:post_id>/<any(publish, send_back, archive, delete):action>")
@role_required("moderator")
def post_action(post_id: int, action: str) -> Response:
    """Act on one post; with htmx its row leaves the tab it no longer belongs to, or shows why nothing changed."""
    form = PostActionForm()
    if not form.validate_on_submit():
        abort(400, "The form was not complete; reload the page and try again.")
    expected = form.expected.data if form.expected.data in review.TABS else None
    try:
        outcome = review.act([post_id], action, by=current_user, reason=form.reason.data or "", expected=expected)
    except Invalid as error:
        return _row_answer(review.get(post_id), error.message, status=422)
    post = outcome.done[0] if outcome.done else outcome.found.get(post_id)
    if post is None:
        abort(404, "There is no such post.")
    if outcome.done:
        message = _done_message(action, post)
    else:
        message = f"Not changed: “{post.title}” is {outcome.skipped[post_id]}."
        if outcome.skipped[post_id] == "an admin's post":
            message = f"Not changed: only admins change an admin's post (“{post.title}”)."
    if not wants_fragment():
        flash(message)
        return redirect_to(_back())
    if outcome.done and (action == "delete" or post.status != expected):
        return render("admin/posts.html", block="post_done", post=post, message=message, deleted=action == "delete")
    return _row_answer(post, message if not outcome.done else None)


@bp.post("/posts/bulk")
@role_required("moderator")
def bulk_posts() -> Response:
    """Apply one action to the ticked posts; says how many changed and what was left alone, and why."""
    form = PostActionForm()
    if not form.validate_on_submit() or form.action.data not in ACTIONS:
        abort(400, "Choose an action, for posts given by number.")
    ids = list(dict.fromkeys(form.ids.data or []))
    if not ids:
        flash("Tick the posts to act on first.")
    else:
        expected = form.expected.data if form.expected.data in review.TABS else None
        try:
            outcome = review.act(ids, form.action.data, by=current_user, reason=form.reason.data or "",
                                 expected=expected)
        except Invalid as error:
            flash(error.message)
        else:
            number = len(outcome.done)
            message = f"{review.DONE[form.action.data]} {number} post{'' if number == 1 else 's'}."
            if outcome.skipped:
                message += f" Left alone: {_describe(outcome.skipped)}."
            flash(message)
    back = _back()
    if wants_fragment():
        return _posts_page(MultiDict(parse_qsl(urlsplit(back).query)))
    return redirect_to(back)


def _row_answer(post, message: str | None, status: int = 200) -> Response:
    """The post's row in its current state, with a message when nothing changed."""
    history = activity.latest(post_ids=[post.id])
    return render("admin/posts.html", block="post_row", status=status, post=post, message=message,
                  history=history, back=_back(), tab=post.status, select_all=False)


def _done_message(action: str, post) -> str:
    if action == "publish" and post.status == "scheduled":
        return f"Approved “{post.title}”: it goes live on {clock.format_local(post.published_at)}."
    return {"publish": "Published “{}”.", "send_back": "Sent “{}” back to its writer.",
            "archive": "Archived “{}”.", "delete": "Deleted “{}”."}[action].format(post.title)


def _describe(skipped: dict[int, str]) -> str:
    reasons: dict[str, int] = {}
    for reason in skipped.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    return ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items(), key=lambda item: -item[1]))


def _back() -> str:
    """Where the form came from (the list with its filters), if that is a path on this site."""
    return accounts.safe_next(request.form.get("next")) or url_for("admin.posts")


def _posts_page(args: MultiDict) -> Response:
    """The list for the filters in ``args``, or its ``listing`` block for htmx."""
    filters = PostFilterForm(args, categories=taxonomy.category_choices())
    chosen = review.Filters(status=filters.status.data, q=filters.q.data, author=filters.author.data,
                            category=filters.category.data)
    number = max(min(args.get("page", 1, type=int) or 1, 1_000_000), 1)
    page = review.listing(current_user, chosen, number)
    counts = review.tab_counts(current_user, chosen)
    query = {"q": chosen.q or None, "author": chosen.author or None, "category": chosen.category}
    back = url_for("admin.posts", status=chosen.status, page=page.page if page.page > 1 else None, **query)
    history = activity.latest(post_ids=[post.id for post in page.items])
    return render("admin/posts.html", block="listing", page=page, filters=filters, tab=chosen.status,
                  counts=counts, query=query, back=back, history=history, message=None,
                  select_all=args.get("select") == "all")


@bp.app_template_global("review_note")
def review_note(post):
    """For templates: the moderator's note on a draft that was sent back (None when there is none)."""
    return review.sent_back_note(post)
