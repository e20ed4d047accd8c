"""Admin forms. They check shape (required, lengths, an id for the parent); the rules live in services.taxonomy."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional

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
