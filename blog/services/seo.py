"""What a page tells crawlers and link previews: descriptions, the default social image, JSON-LD.

JSON-LD is data (``<script type="application/ld+json">``), which browsers never run, so it stays
inside the strict CSP; ``<``, ``>`` and ``&`` are escaped in it so no text can close the element.
"""
from __future__ import annotations

import functools
import html
import io
import json
import re
from dataclasses import dataclass

from flask import current_app
from flask import url_for
from markupsafe import Markup
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

from blog.models import Post
from blog.services import media

DESCRIPTION_MAX = 160
#: Open Graph's recommended size: the default image and the covers' og variant both have it.
IMAGE_SIZE = (1200, 630)
_TAGS = re.compile(r"<[^>]+>")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:!?])")
_WORD = re.compile(r"\w[\w'’-]*")
_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)", re.S)
# A prefix of HTML may end inside a tag or an entity: drop that unfinished tail before stripping tags.
_OPEN_TAG = re.compile(r"<[^>]*$")
_OPEN_ENTITY = re.compile(r"&#?\w*$")
#: How much of a post's HTML the description looks at first (the whole only when that is not enough).
DESCRIPTION_SOURCE = 2000


def plain_text(markup: str) -> str:
    """Sanitised post HTML as plain text (tags dropped, entities decoded, spaces collapsed)."""
    text = " ".join(html.unescape(_TAGS.sub(" ", markup or "")).split())
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)  # "<a>see</a>." must not read "see ."


def plain_prefix(markup_prefix: str) -> str:
    """``plain_text`` of the first characters of some HTML, which may stop inside a tag or an entity."""
    return plain_text(_OPEN_ENTITY.sub("", _OPEN_TAG.sub("", markup_prefix or "")))


def _lead(markup: str) -> str:
    """The first sentence of sanitised HTML's text, else its text (cut by the caller). Read from the
    first DESCRIPTION_SOURCE characters when they settle it, so a long post costs what a short one does."""
    if len(markup) > DESCRIPTION_SOURCE:
        body = plain_prefix(markup[:DESCRIPTION_SOURCE])
        match = _SENTENCE.match(body)
        if match and match.end(1) < len(body):  # a sentence ended inside, and not just at the cut
            return match.group(1)
        if not match and len(body) > DESCRIPTION_MAX + 1:  # the cut falls in a sentence longer than the limit
            return body
    body = plain_text(markup)
    match = _SENTENCE.match(body)
    return match.group(1) if match else body


def description(post: Post) -> str:
    """A post's meta description: its summary, else the first sentence of its text, at most 160 characters."""
    text = " ".join((post.summary or "").split()) or _lead(post.html or "")
    if len(text) > DESCRIPTION_MAX:
        text = text[:DESCRIPTION_MAX - 1].rsplit(" ", 1)[0] + "…"
    return text or current_app.config["SITE_DESCRIPTION"]


def count_words(markup: str) -> int:
    """Words in sanitised HTML's text (stored as ``Post.word_count`` when the HTML is rendered)."""
    # plain_text's spacing fixes change no word, so they are skipped (migration 0018 counts the same way).
    return len(_WORD.findall(html.unescape(_TAGS.sub(" ", markup or ""))))


def absolute(url: str) -> str:
    """``url`` on SITE_URL unless it is absolute already."""
    return url if url.startswith(("http://", "https://")) else current_app.config["SITE_URL"] + url


def default_image() -> str:
    """The absolute URL of the site's default social image: SITE_IMAGE, else the one drawn from SITE_NAME."""
    return absolute(current_app.config["SITE_IMAGE"] or url_for("main.site_image"))


def default_image_alt() -> str:
    """What the default social image shows, as its alt text: "SITE_NAME: SITE_DESCRIPTION"."""
    config = current_app.config
    return f"{config['SITE_NAME']}: {config['SITE_DESCRIPTION']}"


@functools.lru_cache(maxsize=4)
def draw_default_image(name: str, tagline: str) -> bytes:
    """A 1200×630 PNG with the site's name and tagline, drawn with Pillow (cached per process)."""
    width, height = IMAGE_SIZE
    image = Image.new("RGB", IMAGE_SIZE, "#1f2328")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height - 24, width, height), fill="#0b5cad")
    title_font = _fit(draw, name, 96, width - 160)
    box = draw.textbbox((0, 0), name, font=title_font)
    draw.text(((width - (box[2] - box[0])) / 2, height / 2 - (box[3] - box[1]) - 10), name, font=title_font,
              fill="#ffffff")
    if tagline:
        small = _fit(draw, tagline, 40, width - 160)
        box = draw.textbbox((0, 0), tagline, font=small)
        draw.text(((width - (box[2] - box[0])) / 2, height / 2 + 30), tagline, font=small, fill="#c9d1d9")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _fit(draw: ImageDraw.ImageDraw, text: str, size: int, width: int) -> ImageFont.ImageFont:
    # Pillow's built-in scalable font (no font files needed on the host), shrunk until the text fits.
    while True:
        font = ImageFont.load_default(size=size)
        if size <= 16 or draw.textlength(text, font=font) <= width:
            return font
        size -= 4


#: One encoder for every page (``json.dumps`` with options builds a new one on each call).
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_ld(data: dict) -> Markup:
    """``data`` as a JSON-LD script element, safe to put in the page."""
    text = _JSON.encode(data)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(f'<script type="application/ld+json">{text}</script>')


def website_ld() -> Markup:
    """The JSON-LD element of schema.org ``WebSite`` with its search box (``SearchAction``): the same
    on every page, so it is built once for the site's settings."""
    config = current_app.config
    return _website_ld(config["SITE_URL"], config["SITE_NAME"], config["SITE_DESCRIPTION"], url_for("main.search"))


@functools.lru_cache(maxsize=8)
def _website_ld(site: str, name: str, description: str, search: str) -> Markup:
    return json_ld({"@context": "https://schema.org", "@type": "WebSite", "name": name, "description": description,
                    "url": site + "/",
                    "potentialAction": {"@type": "SearchAction",
                                        "target": {"@type": "EntryPoint",
                                                   "urlTemplate": site + search + "?q={search_term_string}"},
                                        "query-input": "required name=search_term_string"}})


def _iso(value) -> str | None:
    return value.replace(microsecond=0).isoformat() + "Z" if value else None


@dataclass(frozen=True, slots=True)
class PostHead:
    """What a post page's ``<head>`` says of the post (``post_head``): one call from the template."""

    description: str
    image: str  # absolute: the cover's Open Graph variant, else the site's default image
    image_alt: str
    published: str | None  # ISO 8601 UTC
    modified: str | None
    author_url: str | None  # absolute
    ld: Markup  # the BlogPosting JSON-LD element


def post_head(post: Post) -> PostHead:
    """The description, social image, dates, author and JSON-LD of ``post``'s page, each worked out once."""
    site = current_app.config["SITE_URL"]
    cover = media.cover_urls(post)
    if cover:
        image, image_alt = site + cover["og"], cover["alt"] or f"Cover image of “{post.title}”"
    else:
        image, image_alt = default_image(), default_image_alt()
    text = description(post)
    author_url = site + url_for("users.profile", username=post.author.username) if post.author is not None else None
    return PostHead(text, image, image_alt, post.published_at.isoformat() + "Z" if post.published_at else None,
                    _iso(post.updated_at), author_url, json_ld(blog_posting(post, image, text, author_url)))


def blog_posting(post: Post, image: str, text: str, author_url: str | None) -> dict:
    """schema.org ``BlogPosting``: headline, author, dates, image, word count, keywords (``text``: the description)."""
    config = current_app.config
    site = config["SITE_URL"]
    url = site + url_for("posts.detail", slug=post.slug)
    data = {"@context": "https://schema.org", "@type": "BlogPosting", "headline": post.title[:110],
            "description": text, "url": url, "mainEntityOfPage": {"@type": "WebPage", "@id": url},
            "image": [image], "wordCount": post.word_count,
            "datePublished": _iso(post.published_at), "dateModified": _iso(post.updated_at or post.published_at),
            "publisher": {"@type": "Organization", "name": config["SITE_NAME"], "url": site + "/"}}
    if post.author is not None:
        data["author"] = {"@type": "Person", "name": post.author.username, "url": author_url}
    if post.tags:
        data["keywords"] = [tag.name for tag in post.tags]
    if post.category is not None:
        data["articleSection"] = post.category.name
    return {key: value for key, value in data.items() if value is not None}


def breadcrumbs(crumbs) -> dict:
    """schema.org ``BreadcrumbList`` from the home page down a category path (``crumbs``: name and slug)."""
    site = current_app.config["SITE_URL"]
    items = [{"@type": "ListItem", "position": 1, "name": "Home", "item": site + "/"}]
    for position, crumb in enumerate(crumbs, start=2):
        items.append({"@type": "ListItem", "position": position, "name": crumb.name,
                      "item": site + url_for("main.category", slug=crumb.slug)})
    return {"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": items}
