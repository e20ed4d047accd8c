"""The comment form: body, the parent for replies, and two hidden spam traps."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import Optional

from blog.services.comments import MAX_BODY


class CommentForm(FlaskForm):
    body = TextAreaField("Your comment", render_kw={"rows": 4, "maxlength": MAX_BODY},
                         description="Markdown-lite: *emphasis*, **bold**, `code` and links.")
    parent_id = IntegerField(validators=[Optional()])
    #: Signed and time-stamped when the form is drawn: double submits and too-fast bots.
    token = HiddenField()
    #: A honeypot: hidden from people (CSS, aria-hidden, no tab stop); bots fill it in.
    website = StringField("Leave this empty", render_kw={"tabindex": "-1", "autocomplete": "off"})
