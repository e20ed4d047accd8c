"""WordPress HTML (Gutenberg blocks or classic editor text) to our Markdown, with markdownify.

What cannot become Markdown is reported by name, never silently dropped: unknown shortcodes,
scripts, embedded frames, ``<!--nextpage-->`` breaks.
"""
from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

from bs4 import BeautifulSoup
from markdownify import MarkdownConverter

_BLOCK_COMMENT = re.compile(r"<!--\s*/?wp:.*?-->", re.S)
_MORE = re.compile(r"<!--more(.*?)?-->", re.S)
_NEXTPAGE = re.compile(r"<!--nextpage-->")
_SHORTCODE = re.compile(r"\[(\[?)([a-zA-Z][\w-]*)((?:\s[^\]]*)?)\](?:(.*?)\[/\2\])?(\]?)", re.S)
_ATTR = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S+))""")
_OEMBED_LINE = re.compile(r"^\s*(https?://[^\s<>\"]+)\s*$", re.M)
_BLOCKS = ("table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre|form|map|area|"
           "blockquote|address|math|style|p|h[1-6]|hr|fieldset|legend|section|article|aside|hgroup|header|"
           "footer|nav|figure|figcaption|details|menu|summary|script|iframe|object|audio|video|source")
_BLOCK_START = re.compile(rf"^\s*</?(?:{_BLOCKS})\b", re.I)
_BLOCK_END = re.compile(rf"</(?:{_BLOCKS})>\s*$", re.I)
_PRE = re.compile(r"(<pre\b.*?</pre>)", re.S | re.I)
#: Elements removed with everything inside them (bleach would drop them later anyway; the report says so).
_REMOVED = ("script", "style", "noscript", "form", "input", "button", "select", "textarea", "object", "embed")


@dataclass
class Converted:
    markdown: str
    #: Plain text before ``<!--more-->`` (the summary break), if the post had one.
    teaser: str = ""
    #: What could not be carried over, for the report (``shortcode [audio]``, ``<script>`` ...).
    notes: list[str] = field(default_factory=list)


class _Converter(MarkdownConverter):
    """markdownify with fenced code blocks that keep their language, and list items indented by four
    spaces (Python-Markdown nests a list only under a four-space indent)."""

    def convert_li(self, el, text, parent_tags):
        text = (text or "").strip()
        if not text:
            return "\n"
        parent = el.parent
        if parent is not None and parent.name == "ol":
            start = int(parent["start"]) if str(parent.get("start", "")).isnumeric() else 1
            bullet = f"{start + len(el.find_previous_siblings('li'))}."
        else:
            bullet = "-"
        bullet = bullet.ljust(3) + " "
        lines = text.split("\n")
        rest = "".join(f"\n    {line}" if line else "\n" for line in lines[1:])
        return f"{bullet}{lines[0]}{rest}\n"

    def convert_pre(self, el, text, parent_tags):
        if not text:
            return ""
        code = el.find("code")
        language = ""
        for cls in (code.get("class", []) if code is not None else []) + el.get("class", []):
            if cls.startswith(("language-", "lang-")):
                language = cls.split("-", 1)[1]
                break
        body = el.get_text()
        fence = "~~~" if "```" in body else "```"
        return f"\n\n{fence}{language}\n{body.rstrip()}\n{fence}\n\n"


_OPTIONS = {"heading_style": "ATX", "bullets": "-", "escape_misc": False, "table_infer_header": True,
            "strong_em_symbol": "*", "newline_style": "SPACES"}


def autop(text: str) -> str:
    """WordPress's ``wpautop`` in short: blank lines make paragraphs, single newlines ``<br>`` (not inside ``<pre>``)."""
    out = []
    for piece in _PRE.split(text.replace("\r\n", "\n")):
        if piece.lower().startswith("<pre"):
            out.append(piece)
            continue
        for chunk in re.split(r"\n\s*\n", piece):
            chunk = chunk.strip()
            if not chunk:
                continue
            if _BLOCK_START.match(chunk) or _BLOCK_END.search(chunk):
                out.append(chunk)
            else:
                out.append("<p>" + chunk.replace("\n", "<br>\n") + "</p>")
    return "\n\n".join(out)


def _attrs(text: str) -> dict[str, str]:
    return {m[1].lower(): html_lib.unescape(m[2] or m[3] or m[4] or "") for m in _ATTR.finditer(text or "")}


def _shortcodes(text: str, notes: list[str], gallery: Callable[[dict[str, str]], list[tuple[str, str]]]) -> str:
    """The shortcodes we know as their nearest HTML; the others stay as text and are reported."""

    def replace(m: re.Match) -> str:
        if m[1] == "[" and m[5] == "]":  # [[escaped]] is literal text
            return m[0][1:-1]
        name, attrs, inner = m[2].lower(), _attrs(m[3]), m[4] or ""
        if name in ("caption", "wp_caption"):
            soup = BeautifulSoup(inner, "html.parser")
            image = soup.find("a") or soup.find("img")
            caption_text = attrs.get("caption") or soup.get_text(" ", strip=True)
            image_html = str(image) if image is not None else ""
            return f"<p>{image_html}<br><em>{html_lib.escape(caption_text)}</em></p>" if caption_text else f"<p>{image_html}</p>"
        if name == "gallery":
            images = gallery(attrs)
            if not images:
                notes.append("shortcode [gallery] with no images found")
                return ""
            return "".join(f'<p><img src="{html_lib.escape(src)}" alt="{html_lib.escape(alt)}"></p>' for src, alt in images)
        if name == "embed":
            url = inner.strip() or attrs.get("src", "")
            return f'<p><a href="{html_lib.escape(url)}">{html_lib.escape(url)}</a></p>' if url else ""
        if name in ("audio", "video", "playlist"):
            url = attrs.get("src") or attrs.get("mp3") or attrs.get("mp4") or inner.strip()
            notes.append(f"shortcode [{name}] became a link")
            return f'<p><a href="{html_lib.escape(url)}">{html_lib.escape(url)}</a></p>' if url else ""
        if name in ("code", "sourcecode", "source"):
            language = attrs.get("language") or attrs.get("lang") or ""
            cls = f' class="language-{html_lib.escape(language)}"' if language else ""
            return f"<pre><code{cls}>{html_lib.escape(html_lib.unescape(inner.strip()))}</code></pre>"
        notes.append(f"shortcode [{name}] kept as text")
        return m[0]

    return _SHORTCODE.sub(replace, text)


def convert(source: str, *, rewrite_url: Callable[[str], str] = lambda url: url,
            gallery: Callable[[dict[str, str]], list[tuple[str, str]]] = lambda attrs: [],
            paragraphs: bool | None = None) -> Converted:
    """WordPress post HTML to Markdown.

    ``rewrite_url`` maps image and link addresses (imported media get our URLs); ``gallery``
    gives ``(src, alt)`` pairs for a ``[gallery]``; ``paragraphs`` forces (or skips) ``wpautop``,
    which by default runs only on classic content (no Gutenberg block comments).
    """
    notes: list[str] = []
    text = source or ""
    if paragraphs is None:
        paragraphs = "<!-- wp:" not in text
    teaser = ""
    more = _MORE.search(text)
    if more:
        before = _BLOCK_COMMENT.sub("", text[:more.start()])
        teaser = " ".join(BeautifulSoup(before, "html.parser").get_text(" ").split())
        text = text[:more.start()] + "\n\n" + text[more.end():]
    if _NEXTPAGE.search(text):
        notes.append("<!--nextpage--> page breaks joined into one page")
        text = _NEXTPAGE.sub("\n\n", text)
    text = _BLOCK_COMMENT.sub("", text)
    text = _shortcodes(text, notes, gallery)
    if paragraphs:
        text = autop(text)
    soup = BeautifulSoup(text, "html.parser")
    for name in _REMOVED:
        found = soup.find_all(name)
        if found:
            notes.append(f"<{name}> removed ({len(found)})")
            for element in found:
                element.decompose()
    for frame in soup.find_all("iframe"):
        src = frame.get("src", "")
        notes.append("<iframe> became a link")
        if src:
            link = soup.new_tag("a", href=src)
            link.string = src
            paragraph = soup.new_tag("p")
            paragraph.append(link)
            frame.replace_with(paragraph)
        else:
            frame.decompose()
    for tag_name, attr in (("img", "src"), ("a", "href")):
        for element in soup.find_all(tag_name):
            if element.get(attr):
                element[attr] = rewrite_url(element[attr])
    markdown = _Converter(**_OPTIONS).convert_soup(soup)
    markdown = re.sub(r"\n{3,}", "\n\n", markdown).strip() + "\n"
    return Converted(markdown=markdown, teaser=teaser, notes=sorted(set(notes)))
