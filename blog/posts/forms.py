"""The post editor form: shapes and choices; the rules live in services.posts.validate."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField
from wtforms import DateTimeLocalField
from wtforms import IntegerField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import NumberRange
from wtforms.validators import Optional

from blog.services import clock
from blog.services.errors import Invalid
from blog.services.posts import MAX_BODY
from blog.services.posts import MAX_SUMMARY
from blog.services.posts import MAX_TITLE
from blog.services.posts import PostInput

STATUS_LABELS = {
    "draft": "Draft: only you (and moderators) can see it",
    "pending": "Submit for review: a moderator publishes it",
    "scheduled": "Scheduled: goes live at the time below",
    "published": "Published: live now",
    "archived": "Archived: readable, but out of listings",
}


class PostForm(FlaskForm):
    title = StringField("Title", render_kw={"maxlength": MAX_TITLE})
    body = TextAreaField("Body (Markdown)", render_kw={"rows": 18, "maxlength": MAX_BODY},
                         description="Markdown with fenced code blocks, tables and footnotes.")
    summary = TextAreaField("Summary", render_kw={"rows": 2, "maxlength": MAX_SUMMARY},
                            description="One or two sentences for listings, feeds and link previews.")
    tags = StringField("Tags", description="Separated by commas, e.g. python, testing.")
    category_id = SelectField("Category", coerce=lambda v: int(v) if v not in (None, "", "None") else None,
                              validators=[Optional()])
    status = SelectField("Status")
    publish_at = DateTimeLocalField("Publish at", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                    validators=[Optional()], render_kw={"step": 1})
    slug = StringField("Address", description="The last part of the post's URL. Changing it keeps the old one "
                                              "working as a redirect.")
    comments_enabled = BooleanField("Allow comments", default=True)
    kind = SelectField("Kind", choices=[("post", "Post: in the listings, feeds and archive"),
                                        ("page", "Page: a static page at /address, out of listings")], default="post")
    nav_order = IntegerField("Header menu position", validators=[Optional(), NumberRange(1, 999)],
                             description="Pages only: linked in the header navigation, lowest number first; "
                                         "leave empty to keep it out of the menu.")
    cover = FileField("Cover image", description="JPEG, PNG, GIF or WebP, up to 8 MB; a wide image works best.")
    cover_alt = StringField("Cover description (alt text)", render_kw={"maxlength": 300},
                            description="What the cover shows, for people who cannot see it; leave empty "
                                        "if it is only decoration.")
    remove_cover = BooleanField("Remove the current cover")
    # "Insert image" (services.media.save_image): with JS the script uploads it to /my/media and
    # inserts the Markdown at the cursor; without, action=insert_image posts the whole editor.
    image = FileField("Image to insert", description="JPEG, PNG, GIF or WebP, up to 8 MB. You can also paste "
                                                     "or drop an image into the body.")
    image_alt = StringField("Image description (alt text)", render_kw={"maxlength": 300},
                            description="Required: what the image shows, for people who cannot see it.")

    def set_choices(self, categories: list[tuple[int, str]], statuses: tuple[str, ...]) -> None:
        """Fill the select fields (categories in tree order; the statuses this user may choose)."""
        self.category_id.choices = [(None, "No category")] + categories
        self.status.choices = [(status, STATUS_LABELS[status]) for status in statuses]

    def set_zone(self, zone_name: str) -> None:
        """Name the writer's zone on the publish time, which is typed in it."""
        self.publish_at.label.text = f"Publish at ({zone_name} time)"
        self.publish_at.description = (f"In your time zone, {zone_name} (set it on your profile); "
                                       "stored as an exact instant, so daylight saving is taken care of.")

    def to_input(self, zone=None) -> PostInput:
        """The submitted values, for services.posts.save; the publish time from ``zone``'s wall clock to UTC.

        Raises:
            Invalid: a scheduled time that does not exist in ``zone`` (skipped by a daylight-saving change).
        """
        publish_at = self.publish_at.data
        if publish_at is not None and zone is not None:
            try:
                publish_at = clock.to_utc(publish_at, zone)
            except Invalid:
                if self.status.data == "scheduled":
                    raise
                publish_at = None  # not used unless scheduled: no reason to refuse the save
        return PostInput(title=self.title.data or "", body=self.body.data or "", summary=self.summary.data or "",
                         tags=self.tags.data or "", category_id=self.category_id.data,
                         status=self.status.data or "draft", publish_at=publish_at,
                         slug=(self.slug.data or "").strip(), comments_enabled=bool(self.comments_enabled.data),
                         kind=self.kind.data or "post", nav_order=self.nav_order.data,
                         cover_alt=self.cover_alt.data or "")
