"""Reading and writing posts: detail, editor with live preview, delete."""
from __future__ import annotations

from flask import Response
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user

from blog import current
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
from blog.services import clock
from blog.services import comments
from blog.services import content
from blog.services import media
from blog.services import posts
from blog.services import reading
from blog.services import revisions
from blog.services import taxonomy
from blog.services.errors import Conflict
from blog.services.errors import Invalid
from blog.services.errors import NotFound


@bp.get("/<slug>")
def detail(slug: str) -> Response:
    """One post with its approved comments, threaded; an old address redirects to the new one."""
    viewer = current.user()
    try:
        post = posts.get_readable(slug, viewer)
    except NotFound:
        moved = posts.redirect_for(slug)
        if moved is None:
            raise
        return redirect(url_for("posts.detail", slug=moved), 301)
    if post.kind == "page":  # a static page lives at /<slug>; /blog/<slug> is not its address
        return redirect(url_for("pages.page", slug=post.slug), 301)
    reply_to = request.args.get("reply_to", type=int)  # the no-JS reply link draws its form in place
    cpage = comments.requested_page(post, viewer, reply_to=reply_to)
    # Forms only for those who can use them: building one puts a CSRF token in a new session,
    # and a guest's page must set no cookie (so every guest can get the same cached page).
    signed_in = viewer.is_authenticated
    response = render("posts/detail.html", block="comments", post=post, thread=comments.thread(post, viewer, cpage),
                      around=reading.Around(post),
                      delete_form=ConfirmForm() if signed_in else None, form=new_form() if signed_in else None,
                      reply_to=reply_to, reply_form=new_form(reply_to) if reply_to and signed_in else None)
    if not htmx:  # a page read, not a fragment refresh (also when the page cache answers it)
        posts.record_view(post, user=viewer, user_agent=request.headers.get("User-Agent", ""))
        count_view_when_cached(post.id)
    return response


def _statuses() -> tuple[str, ...]:
    return posts.AUTHOR_STATUSES if current_user.has_role("author") else posts.READER_STATUSES


def _preview(body: str) -> tuple[str, str | None]:
    """The preview HTML of ``body``, or "" and why it cannot be shown (too long or too complex,
    or images from other sites, which the page's CSP blocks: they show as links, and saving refuses them)."""
    try:
        rendered = content.render_post(body)
    except content.TooComplex as error:
        return "", error.message
    return rendered.html, rendered.remote_message


def _editor(form: PostForm, post=None, status: int = 200, inserted=None, *, version: int | None = None,
            conflict: bool = False) -> Response:
    preview, problem = _preview(form.body.data or "")
    # The version the editor was opened at rides along (hidden), so a save or autosave based on an
    # older one than the post's is told, never applied over a newer save.
    if version is None and post is not None:
        version = request.form.get("version", type=int) if form.is_submitted() else post.version
    return render("posts/editor.html", block="form", status=status, form=form, post=post,
                  preview=preview, preview_problem=problem, inserted=inserted, version=version, conflict=conflict,
                  draft=post.slug if post is not None and request.endpoint == "posts.create" else None)


def _insert_image(form: PostForm, post=None) -> Response:
    """The no-JS "Insert image": store the image, append its Markdown to the body, show the editor again.

    Nothing is saved but the image; what was typed comes back as it was (plus the image). A cover
    file chosen beside it cannot come back (no server can fill a file input): the field says so.
    """
    cover = getattr(form.cover.data, "filename", None)
    if cover:
        apply_errors(form, {"cover": [f"Choose the cover image again ({cover}): a browser cannot keep a chosen "
                                      "file when the page reloads to insert an image."]})
    try:
        row = media.save_image(current_user, form.image.data or None, form.image_alt.data)
    except Invalid as error:
        apply_errors(form, error.fields or {"image": [error.message]})
        return _editor(form, post, status=422)
    body = (form.body.data or "").rstrip()
    form.body.data = f"{body}\n\n{media.image_markdown(row)}\n" if body else f"{media.image_markdown(row)}\n"
    form.image_alt.data = ""
    return _editor(form, post, inserted=row)


def _save(form: PostForm, post=None) -> Response:
    """Shared by create and edit: preview without saving, or save and go to the post (a draft: to the drafts)."""
    zone = clock.zone_for(current_user)
    form.set_choices(taxonomy.category_choices(), _statuses())
    form.set_zone(clock.zone_name(zone))
    if not form.is_submitted():
        return _editor(form, post)
    if request.form.get("action") == "preview":  # the no-JS preview button: show, keep, save nothing
        return _editor(form, post)
    if request.form.get("action") == "insert_image":
        return _insert_image(form, post)
    if not form.validate():
        return _editor(form, post, status=422)
    version = request.form.get("version", type=int) if post is not None else None
    try:
        saved = posts.save(form.to_input(zone), by=current_user, post=post, cover=form.cover.data or None,
                           remove_cover=bool(form.remove_cover.data), version=version)
    except Invalid as error:
        apply_errors(form, error.fields or {"title": [error.message]})
        return _editor(form, post, status=422)
    except Conflict:
        if post is None:
            raise
        # Someone (or another tab) saved since this editor opened: show what was typed, keep it as a
        # revision too, and offer the newer version; saving again (now based on it) replaces it.
        current = revisions.keep_unsaved(post, form.to_input(zone), by=current_user, version=version)
        return _editor(form, post, status=409, version=current, conflict=True)
    if saved.status == "scheduled":
        flash(f"Scheduled for {clock.format_local(saved.published_at, zone=zone)}.")
    else:
        flash({"draft": "Draft saved.", "pending": "Submitted: a moderator will review it.",
               "published": "Published.", "archived": "Archived."}[saved.status])
    if saved.status == "draft":  # a draft is on no public list: the writer finds it among their drafts
        return redirect_to(url_for("my.posts", status="draft"))
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
    draft = request.form.get("draft") if form.is_submitted() else None
    # An autosave already made this new post a draft: saving the form saves that draft.
    return _save(form, posts.get_for_edit(draft, current_user) if draft else None)


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@verified_required
def edit(slug: str) -> Response:
    """Edit a post: its author, or a moderator."""
    post = posts.get_for_edit(slug, current_user)
    form = PostForm(obj=post if request.method == "GET" else None)
    if request.method == "GET":
        form.tags.data = ", ".join(tag.name for tag in post.tags)
        # Shown back in the writer's zone, as they typed it.
        form.publish_at.data = (clock.to_local(post.published_at, clock.zone_for(current_user)).replace(tzinfo=None)
                                if post.status == "scheduled" and post.published_at else None)
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
