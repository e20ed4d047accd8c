"""The one Markdown pipeline: Markdown → Pygments-highlighted HTML → bleach allow-list.

Only HTML produced here may be marked ``|safe`` in a template.
"""
from __future__ import annotations

import math
import re
import threading
from urllib.parse import urlsplit

import xml.etree.ElementTree as etree

import bleach
import markdown
from bleach.html5lib_shim import Filter
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor

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
_SAFE_CLASS = re.compile(r"^[\w -]{1,200}$")


def _attribute_allowed(tag: str, name: str, value: str) -> bool:
    if name == "id":
        return bool(_SAFE_ID.match(value))
    if name == "class":
        return tag in {"code", "div", "pre", "span", "sup", "a", "li", "ol"} and bool(_SAFE_CLASS.match(value))
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
    filters=[ExternalLinks],
)
_local = threading.local()


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
    md = getattr(_local, kind, None)
    if md is None:
        md = build()
        setattr(_local, kind, md)
    try:
        return md.convert(text or "")
    finally:
        md.reset()


def render_markdown(text: str) -> str:
    """Render Markdown to sanitised HTML with highlighted code and safe links."""
    return _cleaner.clean(_convert("post", _post_markdown, text))


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
    """Render a comment's Markdown-lite to sanitised HTML (links marked nofollow noopener)."""
    html = _convert("comment", lambda: markdown.Markdown(extensions=[BareUrls()], output_format="html"), text)
    return _comment_cleaner.clean(html)


_LINK = re.compile(r"https?://|www\.", re.I)


def link_count(text: str) -> int:
    """How many links ``text`` carries (spam heuristics)."""
    return len(_LINK.findall(text or ""))
