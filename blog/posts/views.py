"""Reading and writing posts: detail, editor with live preview, delete."""
from __future__ import annotations

from flask import Response
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user

from blog.auth.forms import ConfirmForm
from blog.auth.forms import apply_errors
from blog.comments.views import new_form
from blog.extensions import htmx
from blog.extensions import limiter
from blog.permissions import verified_required
from blog.posts import bp
from blog.posts.forms import PostForm
from blog.rendering import count_view_when_cached
from blog.rendering import redirect_to
from blog.rendering import render
from blog.rendering import render_fragment
from blog.services import comments
from blog.services import content
from blog.services import posts
from blog.services import taxonomy
from blog.services.errors import Invalid
from blog.services.errors import NotFound


@bp.get("/<slug>")
def detail(slug: str) -> Response:
    """One post with its approved comments, threaded; an old address redirects to the new one."""
    try:
        post = posts.get_visible(slug, current_user)
    except NotFound:
        moved = posts.redirect_for(slug)
        if moved is None:
            raise
        return redirect(url_for("posts.detail", slug=moved), 301)
    if post.kind == "page":  # a static page lives at /<slug>; /blog/<slug> is not its address
        return redirect(url_for("pages.page", slug=post.slug), 301)
    reply_to = request.args.get("reply_to", type=int)  # the no-JS reply link draws its form in place
    # Forms only for those who can use them: building one puts a CSRF token in a new session,
    # and a guest's page must set no cookie (so every guest can get the same cached page).
    signed_in = current_user.is_authenticated
    response = render("posts/detail.html", block="comments", post=post, thread=comments.thread(post, current_user),
                      delete_form=ConfirmForm() if signed_in else None, form=new_form() if signed_in else None,
                      reply_to=reply_to, reply_form=new_form(reply_to) if reply_to and signed_in else None)
    if not htmx:  # a page read, not a fragment refresh (also when the page cache answers it)
        posts.record_view(post, user=current_user, user_agent=request.headers.get("User-Agent", ""))
        count_view_when_cached(post.id)
    return response


def _statuses() -> tuple[str, ...]:
    return posts.AUTHOR_STATUSES if current_user.has_role("author") else posts.READER_STATUSES


def _preview(body: str) -> tuple[str, str | None]:
    """The preview HTML of ``body``, or "" and why it cannot be shown (too long or too complex)."""
    try:
        return content.render_markdown(body), None
    except content.TooComplex as error:
        return "", error.message


def _editor(form: PostForm, post=None, status: int = 200) -> Response:
    preview, problem = _preview(form.body.data or "")
    return render("posts/editor.html", block="form", status=status, form=form, post=post,
                  preview=preview, preview_problem=problem)


def _save(form: PostForm, post=None) -> Response:
    """Shared by create and edit: preview without saving, or save and go to the post."""
    form.set_choices(taxonomy.category_choices(), _statuses())
    if not form.is_submitted():
        return _editor(form, post)
    if request.form.get("action") == "preview":  # the no-JS preview button: show, keep, save nothing
        return _editor(form, post)
    if not form.validate():
        return _editor(form, post, status=422)
    try:
        saved = posts.save(form.to_input(), by=current_user, post=post, cover=form.cover.data or None,
                           remove_cover=bool(form.remove_cover.data))
    except Invalid as error:
        apply_errors(form, error.fields or {"title": [error.message]})
        return _editor(form, post, status=422)
    if saved.status == "scheduled":
        flash(f"Scheduled for {saved.published_at:%d %b %Y, %H:%M} UTC.")
    else:
        flash({"draft": "Draft saved.", "pending": "Submitted: a moderator will review it.",
               "published": "Published.", "archived": "Archived."}[saved.status])
    if saved.kind == "page":
        return redirect_to(url_for("pages.page", slug=saved.slug))
    return redirect_to(url_for("posts.detail", slug=saved.slug))


@bp.route("/create", methods=["GET", "POST"])
@verified_required
def create() -> Response:
    """Write a new post (readers' posts wait for review)."""
    form = PostForm()
    if not form.is_submitted():
        form.status.data = "draft"
    return _save(form)


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@verified_required
def edit(slug: str) -> Response:
    """Edit a post: its author, or a moderator."""
    post = posts.get_for_edit(slug, current_user)
    form = PostForm(obj=post if request.method == "GET" else None)
    if request.method == "GET":
        form.tags.data = ", ".join(tag.name for tag in post.tags)
        form.publish_at.data = post.published_at if post.status == "scheduled" else None
    return _save(form, post)


@bp.post("/preview")
@verified_required
@limiter.limit("120/minute")
def preview() -> Response:
    """The body rendered by the same pipeline as the published page, for the live preview."""
    preview, problem = _preview(request.form.get("body", ""))
    return render_fragment("posts/editor.html", "preview", status=422 if problem else 200,
                           preview=preview, preview_problem=problem)


@bp.get("/tags/suggest")
@verified_required
def tag_suggestions() -> Response:
    """Completions for the tag being typed, as <datalist> options holding the whole field value."""
    typed = request.args.get("tags", "")
    prefix = typed.rsplit(",", 1)[0] + ", " if "," in typed else ""
    return render_fragment("posts/editor.html", "tag_suggestions",
                           suggestions=[prefix + name for name in posts.tag_suggestions(typed)])


@bp.post("/<slug>/delete")
@verified_required
def delete(slug: str) -> Response:
    """Delete a post with its comments and cover files (after a confirmation)."""
    post = posts.get_for_edit(slug, current_user)
    title = post.title
    posts.delete(post, by=current_user)
    flash(f"Deleted “{title}”.")
    return redirect_to(url_for("main.index"))
