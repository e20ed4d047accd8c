"""/my/media: a writer's uploaded images; the upload the editor's "Insert image" uses; delete unused ones."""
from __future__ import annotations

from flask import Response
from flask import flash
from flask import jsonify
from flask import request
from flask import url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField

from blog.auth.forms import ConfirmForm
from blog.auth.forms import apply_errors
from blog.extensions import limiter
from blog.media import bp
from blog.permissions import verified_required
from blog.rendering import page_number
from blog.rendering import redirect_to
from blog.rendering import render
from blog.services import media
from blog.services.errors import Conflict
from blog.services.errors import Invalid


class UploadForm(FlaskForm):
    """The library's own upload (no JS), the same fields as the editor's "Insert image"."""

    image = FileField("Image", description="JPEG, PNG, GIF or WebP, up to 8 MB.")
    image_alt = StringField("Description (alt text)", render_kw={"maxlength": media.MAX_ALT},
                            description="Required: what the image shows, for people who cannot see it.")


def _wants_json() -> bool:
    # editor-images.js asks for JSON (it inserts the Markdown at the cursor); forms get HTML.
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _library(form: UploadForm | None = None, status: int = 200, problem: str | None = None) -> Response:
    page = media.library(current_user, page=page_number())
    used = media.usage(row.id for row in page.items)
    return render("media/library.html", block="library", status=status, page=page, used=used,
                  form=form or UploadForm(), delete_form=ConfirmForm(), problem=problem,
                  markdown=media.image_markdown, media_url=media.media_url)


@bp.get("/media")
@verified_required
def library() -> Response:
    """The signed-in writer's images, newest first, with where each is used; paginated, in place."""
    return _library()


@bp.post("/media")
@verified_required
@limiter.limit("60/minute")
def upload() -> Response:
    """Upload an image: JSON ``{markdown, url, alt, width, height}`` for the editor's script, else back to the library."""
    form = UploadForm()
    try:
        row = media.save_image(current_user, form.image.data or None, form.image_alt.data)
    except Invalid as error:
        fields = error.fields or {"image": [error.message]}
        if _wants_json():
            return jsonify({"error": "Unprocessable Entity", "message": error.message, "fields": fields,
                            "status": 422}), 422
        apply_errors(form, fields)
        return _library(form, status=422)
    if _wants_json():
        return jsonify({"id": row.id, "markdown": media.image_markdown(row), "url": media.media_url(row),
                        "alt": row.alt, "width": row.width, "height": row.height}), 201
    flash(f"Uploaded “{row.alt}”. Insert it into a post with: {media.image_markdown(row)}")
    return redirect_to(url_for("media.library"))


@bp.post("/media/<int:media_id>/delete")
@verified_required
def delete(media_id: int) -> Response:
    """Delete one of your images that no post shows (its files go too); a used one is refused in place."""
    try:
        alt = media.delete_image(current_user, media_id)
    except Conflict as error:
        return _library(status=409, problem=error.message)
    flash(f"Deleted the image “{alt}”.")
    return redirect_to(url_for("media.library", page=request.args.get("page", type=int) or None))
