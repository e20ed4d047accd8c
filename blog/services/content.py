"""The one Markdown pipeline: Markdown → Pygments-highlighted HTML → bleach allow-list.

Only HTML produced here may be marked ``|safe`` in a template.
"""
from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import xml.etree.ElementTree as etree

import bleach
import markdown
from bleach.html5lib_shim import Filter
from flask import has_app_context
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from pygments.token import STANDARD_TYPES

from blog.services import media  # our images' sizes; media renders posts again through us
from blog.services.errors import Invalid

#: Tags a post body may contain after sanitising.
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol",
    "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "ul",
})
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})

# Ids come from the table of contents and footnotes only; a user-chosen id could
# shadow an element of the page (an htmx target, say), so other ids are dropped.
_SAFE_ID = re.compile(r"^(h-[\w-]+|fn:[\w-]+|fnref\d*:[\w-]+)$")

#: The only classes a post may carry: those our own renderer emits (Pygments' token classes inside a
#: ``highlight`` block, the footnotes and the table of contents). Anything else could dress text up
#: as the site's own flash messages or notices.
RENDERER_CLASSES: dict[str, frozenset[str]] = {
    "div": frozenset({"highlight", "footnote", "toc"}),
    "span": frozenset(name for name in STANDARD_TYPES.values() if name),
    "a": frozenset({"footnote-ref", "footnote-backref"}),
}

#: Longest Markdown text (characters) rendered at all; posts.MAX_BODY is the same size.
MAX_MARKDOWN = 100_000
#: CPU seconds (of this thread, so a busy machine does not shrink it) one rendering may take.
#: Every Markdown processor checks it as it works. Legitimate 100,000-character posts take
#: 0.05-0.5 s, code-heavy ones more (23 kB of headings, links and 300 highlighted code blocks
#: take 0.4-0.6 s on an idle core, twice that on a loaded one); a 3,500-row table is refused.
#: The shapes that are slow on purpose never get here (refused before converting, below).
RENDER_BUDGET = 2.0
#: Python-Markdown's link parsing is cubic in the ``[`` of one paragraph (10,000 take ~18 s,
#: 300 about a millisecond), so text over these is refused before it reaches the converter.
MAX_BRACKETS_PER_PARAGRAPH = 300
MAX_BRACKETS = 5_000
#: Deeper list or quote nesting than this (leading spaces, or ``>`` marks) is refused.
MAX_INDENT = 64
MAX_QUOTE_DEPTH = 16

TOO_LONG = "This text is too long to render ({length:,} characters; at most {limit:,})."
TOO_COMPLEX = "This text is too complex to render (deeply nested or many unclosed brackets); simplify it."


_FENCED = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1[ \t]*$", re.M | re.S)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_QUOTES = re.compile(r"^(?:[ \t]*>)+", re.M)


def _structure_problem(text: str) -> bool:
    """True when ``text`` has the shapes Python-Markdown is super-linear on (fenced code aside)."""
    prose = _FENCED.sub("", text)
    if prose.count("[") > MAX_BRACKETS:
        return True
    if any(part.count("[") > MAX_BRACKETS_PER_PARAGRAPH for part in _PARAGRAPH_BREAK.split(prose)):
        return True
    for line in prose.splitlines():
        stripped = line.lstrip(" \t")
        if len(line.expandtabs(4)) - len(stripped.expandtabs(4)) > MAX_INDENT:
            return True
    return any(match.group(0).count(">") > MAX_QUOTE_DEPTH for match in _QUOTES.finditer(prose))


class TooComplex(Invalid):
    """Markdown that is too long, too deeply nested or too slow to render within the budget."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message, {field: [message]})


def _attribute_allowed(tag: str, name: str, value: str) -> bool:
    if name == "id":
        return bool(_SAFE_ID.match(value))
    if name == "class":
        allowed = RENDERER_CLASSES.get(tag, frozenset())
        return bool(value) and all(part in allowed for part in value.split())
    if tag == "a":
        return name in {"href", "title", "rel"}
    if tag == "img":
        return name in {"src", "alt", "title", "width", "height", "loading"}
    if tag in {"td", "th"}:
        return name in {"align", "colspan", "rowspan"}
    if tag == "abbr":
        return name == "title"
    if tag == "ol":
        return name == "start"
    return False


def _heading_slug(value: str, separator: str) -> str:
    from slugify import slugify

    return "h-" + (slugify(value, separator=separator) or "section")


class ExternalLinks(Filter):
    """Mark links that leave the site ``rel="nofollow noopener"``; other links get no ``rel``."""

    def __iter__(self):
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token["name"] == "a":
                attrs = token["data"]
                parts = urlsplit(attrs.get((None, "href"), ""))
                if parts.scheme in ("http", "https") and parts.netloc:
                    attrs[(None, "rel")] = "nofollow noopener"
                else:
                    attrs.pop((None, "rel"), None)
            yield token


def is_local_image(src: str) -> bool:
    """True for an image this site serves itself (a same-site path, e.g. an upload).

    The CSP (``img-src 'self'``) blocks every other host, so such images would show broken.
    """
    parts = urlsplit(src or "")
    return (not parts.scheme and not parts.netloc and (src or "").startswith("/")
            and not src.startswith("//") and "\\" not in src)


class LocalImages(Filter):
    """Keep images from this site; an image from elsewhere becomes a link to it, named by its alt text.

    The refused addresses are noted (``render_post`` reports them: the editor refuses to save new ones).
    """

    def __iter__(self):
        refused = getattr(_local, "remote", None)
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token["name"] == "img":
                attrs = token["data"]
                src = attrs.get((None, "src"), "")
                if not is_local_image(src):
                    if refused is not None:
                        refused.append(src)
                    parts = urlsplit(src)
                    if parts.scheme in ("http", "https") and parts.netloc:
                        label = attrs.get((None, "alt")) or src
                        yield {"type": "StartTag", "name": "a", "namespace": token.get("namespace"),
                               "data": {(None, "href"): src, (None, "rel"): "nofollow noopener"}}
                        yield {"type": "Characters", "data": label}
                        yield {"type": "EndTag", "name": "a", "namespace": token.get("namespace")}
                    continue
            yield token


#: The address of one of our uploaded images (services.media: ``/uploads/media/<32 hex>.<ext>``).
_MEDIA_SRC = re.compile(r"^/uploads/media/([0-9a-f]{32}\.(?:jpg|png|gif|webp))$")
_MEDIA_KEYS = re.compile(r"/uploads/media/([0-9a-f]{32}\.(?:jpg|png|gif|webp))")


class OwnImages(Filter):
    """Our uploaded images get their size (no layout shift), ``loading="lazy"`` and a ``srcset`` of
    their WebP variants, from the rows ``render_post`` looked up (in one query) before cleaning.

    Runs after the sanitiser, so these attributes exist only on our own images.
    """

    def __iter__(self):
        known = getattr(_local, "media", None) or {}
        used = getattr(_local, "used", None)
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token["name"] == "img":
                attrs = token["data"]
                match = _MEDIA_SRC.match(attrs.get((None, "src"), ""))
                if match:
                    info = known.get(match[1])
                    if info is None:
                        attrs[(None, "loading")] = "lazy"
                    else:
                        media_id, width, height, processed = info
                        if used is not None:
                            used.add(media_id)
                        for name, value in media.image_attributes(match[1], width, height, processed).items():
                            attrs[(None, name)] = value
            yield token


def _media_rows(keys: set[str]) -> dict:
    if not keys or not has_app_context():  # rendering outside the app (unit tests): no rows to read
        return {}
    return media.image_rows(keys)


class _BareUrl(InlineProcessor):
    ANCESTOR_EXCLUDES = ("a",)  # a URL that is already a link's text stays text

    def handleMatch(self, m, data):  # noqa: N802 (Markdown's API)
        link = etree.Element("a", {"href": m.group(1)})
        link.text = m.group(1)
        return link, m.start(0), m.end(0)


class BareUrls(Extension):
    """Turn bare http(s) URLs in text into links, as people expect; code spans and blocks are left alone.

    (Markdown never runs inline patterns inside code, which bleach's linkify
    with ``skip_tags`` got wrong: it escaped the code's entities twice.)
    """

    PATTERN = r"""(?<![<"'=\w/])(https?://[^\s<>"']+[^\s<>"'.,;:!?)\]])"""

    def extendMarkdown(self, md):  # noqa: N802 (Markdown's API)
        md.inlinePatterns.register(_BareUrl(self.PATTERN, md), "bare_url", 95)


_cleaner = bleach.sanitizer.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=_attribute_allowed,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[LocalImages, OwnImages, ExternalLinks],
)
_local = threading.local()


class _OverBudget(Exception):
    pass


def _check_deadline() -> None:
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and time.thread_time() > deadline:
        raise _OverBudget


def _guarded(method: Callable) -> Callable:
    def run(*args, **kwargs):
        _check_deadline()
        return method(*args, **kwargs)

    return run


def _with_budget(md: markdown.Markdown) -> markdown.Markdown:
    """Make every inline, block and tree processor of ``md`` check this thread's deadline first.

    The slow cases spend their time in many calls of these processors (each call is short), so
    a check per call stops a runaway conversion within milliseconds of the budget.
    """
    for pattern in md.inlinePatterns:
        if hasattr(pattern, "handleMatch"):
            pattern.handleMatch = _guarded(pattern.handleMatch)
    for processor in md.parser.blockprocessors:
        processor.run = _guarded(processor.run)
        processor.test = _guarded(processor.test)
    for processor in list(md.treeprocessors) + list(md.preprocessors) + list(md.postprocessors):
        processor.run = _guarded(processor.run)
    return md


def _post_markdown() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=["fenced_code", "codehilite", "tables", "footnotes", "toc", "sane_lists", "abbr", BareUrls()],
        extension_configs={
            "codehilite": {"css_class": "highlight", "guess_lang": False},
            "toc": {"slugify": _heading_slug, "permalink": False},
        },
        output_format="html",
    )


def _convert(kind: str, build, text: str) -> str:
    """Markdown to HTML with this thread's converter of ``kind``.

    A Markdown instance is not thread-safe, but building one per call is slow: one per thread.
    """
    text = text or ""
    if len(text) > MAX_MARKDOWN:
        raise TooComplex(TOO_LONG.format(length=len(text), limit=MAX_MARKDOWN))
    if _structure_problem(text):
        raise TooComplex(TOO_COMPLEX)
    md = getattr(_local, kind, None)
    if md is None:
        md = _with_budget(build())
        setattr(_local, kind, md)
    _local.deadline = time.thread_time() + RENDER_BUDGET
    try:
        return md.convert(text)
    except (_OverBudget, RecursionError):
        raise TooComplex(TOO_COMPLEX) from None
    finally:
        _local.deadline = None
        md.reset()


REMOTE_IMAGES = ("Upload the image instead; images from other sites are blocked by the page's security "
                 "policy: {addresses}")


@dataclass(frozen=True)
class Rendered:
    """A post body rendered: the HTML, the images from other sites it refused, the ids of our images it shows."""

    html: str
    remote_images: tuple[str, ...]
    media_ids: tuple[int, ...]

    @property
    def remote_message(self) -> str | None:
        """What to tell the writer about the refused images, or None."""
        if not self.remote_images:
            return None
        return REMOTE_IMAGES.format(addresses=", ".join(dict.fromkeys(self.remote_images)))


def render_post(text: str) -> Rendered:
    """Render a post body like ``render_markdown``, and say which images it refused or showed.

    Our images' sizes come from their ``media`` rows, read in one query for the whole body (none
    when it shows no image of ours), so the HTML depends only on the body and those rows.

    Raises:
        TooComplex: as for ``render_markdown``.
    """
    raw = _convert("post", _post_markdown, text)
    _local.media, _local.remote, _local.used = _media_rows(set(_MEDIA_KEYS.findall(raw))), [], set()
    try:
        html = _cleaner.clean(raw)
        return Rendered(html, tuple(_local.remote), tuple(sorted(_local.used)))
    finally:
        _local.media = _local.remote = _local.used = None


def render_markdown(text: str) -> str:
    """Render Markdown to sanitised HTML with highlighted code and safe links.

    Our own uploaded images get their size, ``loading="lazy"`` and a ``srcset``; images from
    other hosts become links (the CSP would block them).

    Raises:
        TooComplex: ``text`` is over MAX_MARKDOWN characters, or its rendering ran out of
            RENDER_BUDGET (a 422 with a message on the ``body`` field).
    """
    return render_post(text).html


_WORD = re.compile(r"\w+")


def reading_time(text: str, words_per_minute: int = 200) -> int:
    """Minutes to read ``text`` at ~200 words a minute, at least one."""
    return max(1, math.ceil(len(_WORD.findall(text or "")) / words_per_minute))


#: Comments get Markdown-lite: paragraphs, links, emphasis and code, nothing else.
COMMENT_TAGS = frozenset({"p", "br", "a", "em", "strong", "code", "pre"})
_comment_cleaner = bleach.sanitizer.Cleaner(
    tags=COMMENT_TAGS,
    attributes={"a": ["href", "rel"]},
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[ExternalLinks],
)


def render_comment(text: str) -> str:
    """Render a comment's Markdown-lite to sanitised HTML (links marked nofollow noopener).

    Raises:
        TooComplex: as for ``render_markdown``.
    """
    html = _convert("comment", lambda: markdown.Markdown(extensions=[BareUrls()], output_format="html"), text)
    return _comment_cleaner.clean(html)


_LINK = re.compile(r"https?://|www\.", re.I)


def link_count(text: str) -> int:
    """How many links ``text`` carries (spam heuristics)."""
    return len(_LINK.findall(text or ""))
