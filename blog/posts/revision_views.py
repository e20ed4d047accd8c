"""Autosave while the editor is open, and a post's revisions: list, diff, restore."""
from __future__ import annotations

from flask import Response
from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user

from blog.extensions import limiter
from blog.permissions import verified_required
from blog.posts import bp
from blog.posts.forms import PostForm
from blog.rendering import page_number
from blog.rendering import redirect_to
from blog.rendering import render
from blog.rendering import render_fragment
from blog.services import clock
from blog.services import posts
from blog.services import revisions
from blog.services import taxonomy
from blog.services.errors import Invalid


def _writer_key() -> str:
    return f"autosave:{current_user.get_id()}"


#: The editor autosaves 3 s after typing stops: a writer never needs more than ~20 a minute.
AUTOSAVE_LIMIT = "40/minute"


@bp.post("/autosave")
@verified_required
@limiter.limit(AUTOSAVE_LIMIT, key_func=_writer_key)
def autosave_new() -> Response:
    """Autosave a new post's editor: the first one creates a draft, later ones (``draft`` field) update it."""
    draft = request.form.get("draft", "")
    return _autosave(posts.get_for_edit(draft, current_user) if draft else None, new=True)


@bp.post("/<slug>/autosave")
@verified_required
@limiter.limit(AUTOSAVE_LIMIT, key_func=_writer_key)
def autosave(slug: str) -> Response:
    """Autosave an existing post's editor: a draft in place, anything else as an autosave revision."""
    return _autosave(posts.get_for_edit(slug, current_user), new=False)


def _autosave(post, *, new: bool) -> Response:
    form = PostForm()
    form.set_choices(taxonomy.category_choices(), posts.AUTHOR_STATUSES + posts.READER_STATUSES)
    version = request.form.get("version", type=int)
    try:
        result = revisions.autosave(form.to_input(clock.zone_for(current_user)), by=current_user, post=post, version=version)
    except Invalid as error:
        first = next((messages[0] for messages in error.fields.values() if messages), error.message)
        return render_fragment("posts/editor.html", "autosave", status=422, note="invalid",
                               message=f"Not autosaved yet: {first}",
                               version=version, draft=post.slug if new and post else None, post=post)
    note = "stale" if result.stale else ("saved" if result.applied else "kept")
    response = render_fragment("posts/editor.html", "autosave", status=409 if result.stale else 200, note=note,
                               at=result.at, version=result.version, draft=result.post.slug if new else None,
                               post=result.post)
    if new and post is None:
        # The draft now exists: a reload (or the back button) opens it, not an empty editor.
        response.headers["HX-Replace-Url"] = url_for("posts.edit", slug=result.post.slug)
    return response


@bp.get("/<slug>/revisions")
@verified_required
def revision_list(slug: str) -> Response:
    """A post's revisions, newest first; ``?rev=N`` compares one with the post as it is now."""
    post = posts.get_for_edit(slug, current_user)
    page = revisions.listing(post, page_number())
    chosen = request.args.get("rev", type=int)
    selected = revisions.get(post, chosen) if chosen else None
    return render("posts/revisions.html", block="history", post=post, page=page, selected=selected,
                  lines=revisions.diff(selected, post) if selected else [])


@bp.post("/<slug>/revisions/<int:revision_id>/restore")
@verified_required
def restore_revision(slug: str, revision_id: int) -> Response:
    """Make a revision the post's content again (a new save, so the current text stays a revision too)."""
    post = posts.get_for_edit(slug, current_user)
    try:
        saved = revisions.restore(post, revision_id, by=current_user)
    except Invalid as error:
        problems = [message for messages in error.fields.values() for message in messages] or [error.message]
        flash("Could not restore that revision: " + " ".join(problems), "error")
        return redirect_to(url_for("posts.revision_list", slug=slug, rev=revision_id))
    flash("Restored: the post now holds that revision's text (saved as a new revision).")
    return redirect_to(url_for("posts.edit", slug=saved.slug))
