"""Admin forms. They check shape (required, lengths, ids); the rules live in services (taxonomy, comments)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Form
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from blog.models.user import ROLES
from blog.services.review import TABS as REVIEW_TABS
from blog.services.taxonomy import MAX_CATEGORY_DESCRIPTION
from blog.services.taxonomy import MAX_CATEGORY_NAME


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _optional_id(value) -> int | None:
    """The empty choice ("top level") is None; anything else must be a whole number."""
    return None if value in (None, "", "None") else int(value)


class CategoryForm(FlaskForm):
    """Add or edit a category. ``choices`` lists the possible parents, as ``(id, label)``."""

    name = StringField("Name", filters=[_strip],
                       validators=[DataRequired("Give the category a name."), Length(max=MAX_CATEGORY_NAME)])
    # The service says whether the parent exists and is not the category itself or under it, so an
    # id missing from ``choices`` (deleted meanwhile, or a descendant) gets that clear message.
    parent_id = SelectField("Parent", coerce=_optional_id, validate_choice=False)
    description = TextAreaField("Description", filters=[_strip],
                                validators=[Optional(), Length(max=MAX_CATEGORY_DESCRIPTION)],
                                description="Optional: shown at the top of the category's page.")

    def __init__(self, *args, choices: list[tuple[int, str]] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.parent_id.choices = [("", "None (top level)"), *choices]


#: The moderation queue's filters, in the order the status select offers them.
QUEUE_STATUSES = ("pending", "approved", "spam", "rejected")


class CommentFilterForm(Form):
    """The moderation queue's filters, read from the query string (a GET form: no CSRF token).

    Anything unexpected in the query string falls back to the defaults rather than failing: it
    only chooses what to look at.
    """

    status = SelectField("Status", choices={status: status.capitalize() for status in QUEUE_STATUSES},
                         default="pending")
    post = SelectField("Post", default="", validate_choice=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.status.data not in QUEUE_STATUSES:
            self.status.data = "pending"
        self.post.data = self.post.data or ""
        self.offer_posts([])

    def offer_posts(self, posts: list[tuple[str, str]]) -> None:
        """The posts to pick from, as ``(slug, title)`` (known only once the status is read)."""
        self.post.choices = [("", "All posts"), *posts]
        self.post_titles = dict(posts)


class BulkModerationForm(FlaskForm):
    """Approve, reject or mark as spam the ticked comments (``ids``, repeated)."""

    ids = SelectMultipleField(coerce=int, validate_choice=False)
    action = SelectField(choices={"approve": "Approve", "reject": "Reject", "spam": "Spam"},
                         validators=[DataRequired()])


def _optional_int(value) -> int | None:
    """An optional id from the query string: anything but a whole number means "any"."""
    try:
        return int(value) if value not in (None, "", "None") else None
    except (TypeError, ValueError):
        return None


class PostFilterForm(Form):
    """The /admin/posts filters, read from the query string (GET: no CSRF token). Nonsense falls back to defaults."""

    status = SelectField("Status", choices={s: s.capitalize() for s in REVIEW_TABS}, default="pending")
    q = StringField("Title contains", filters=[_strip])
    author = StringField("Author (username)", filters=[_strip])
    category = SelectField("Category", coerce=_optional_int, validate_choice=False, default=None)

    def __init__(self, *args, categories: list[tuple[int, str]] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.status.data not in REVIEW_TABS:
            self.status.data = "pending"
        self.category.choices = [("", "Any category"), *categories]
        self.q.data = (self.q.data or "")[:200]
        self.author.data = (self.author.data or "")[:40]


class PostActionForm(FlaskForm):
    """One action on one post or on the ticked ones (``ids``); ``expected`` is the tab they were shown in."""

    ids = SelectMultipleField(coerce=int, validate_choice=False)
    action = SelectField(choices={"publish": "Publish", "send_back": "Send back", "archive": "Archive",
                                  "delete": "Delete"}, validators=[Optional()])
    reason = TextAreaField("Note to the writer", filters=[_strip], validators=[Optional(), Length(max=2000)])
    expected = StringField(validators=[Optional()])


class UserFilterForm(Form):
    """The /admin/users filters (GET)."""

    q = StringField("Name or email contains", filters=[_strip])
    role = SelectField("Role", choices={"": "Any role", **{r: r.capitalize() for r in ROLES}}, default="",
                       validate_choice=False)
    verified = SelectField("Email", choices={"": "Verified or not", "yes": "Verified", "no": "Not verified"},
                           default="", validate_choice=False)
    active = SelectField("Account", choices={"": "Active or not", "yes": "Active", "no": "Deactivated"},
                         default="", validate_choice=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.q.data = (self.q.data or "")[:254]
        for name, allowed in (("role", ROLES), ("verified", ("yes", "no")), ("active", ("yes", "no"))):
            if getattr(self, name).data not in allowed:
                getattr(self, name).data = ""


class UserRoleForm(FlaskForm):
    role = SelectField("Role", choices={r: r.capitalize() for r in ROLES})


class UserDeleteForm(FlaskForm):
    posts = SelectField("Their posts", choices={"reassign": "Give them to another user", "delete": "Delete them"})
    reassign_to = StringField("Give them to (username)", filters=[_strip], validators=[Optional(), Length(max=40)])


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token."""
