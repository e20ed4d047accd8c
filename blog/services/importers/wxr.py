"""WordPress eXtended RSS (WXR 1.0-1.2) files, read with defusedxml's iterparse in bounded memory.

Two passes over the file: the first checks it is well-formed (before anything is written) and
collects what posts refer to (authors, categories, tags, attachments: small); the second
streams the posts and pages with their comments, clearing each ``<item>`` once stored.
"""
from __future__ import annotations

import html as html_lib
import re
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from blog.services.errors import Invalid
from blog.services.importers import html as wp_html
from blog.services.importers.items import CategoryItem
from blog.services.importers.items import CommentItem
from blog.services.importers.items import MediaItem
from blog.services.importers.items import PostItem
from blog.services.importers.items import TagItem
from blog.services.importers.items import UserItem
from blog.services.importers.writer import Writer
from blog.services.importers.writer import parse_datetime

#: WordPress status -> ours, and whether the report should mention the change.
STATUSES = {"publish": ("published", False), "future": ("scheduled", False), "draft": ("draft", False),
            "pending": ("pending", False), "private": ("draft", True)}
COMMENT_STATUSES = {"1": "approved", "0": "pending", "spam": "spam", "trash": "rejected"}
_SIZED = re.compile(r"-\d+x\d+(?=\.\w+$)")  # image-300x200.jpg is a resized copy of image.jpg


def _local(tag: str) -> str:
    """``{https://wordpress.org/export/1.2/}post_id`` → ``wp:post_id`` (namespace versions vary)."""
    if tag.startswith("{"):
        uri, _, name = tag[1:].partition("}")
        if "/export/" in uri:
            return f"wp:{name}"
        if "excerpt" in uri:
            return f"excerpt:{name}"
        if "purl.org/rss/1.0/modules/content" in uri:
            return f"content:{name}"
        if "purl.org/dc/" in uri:
            return f"dc:{name}"
        return name
    return tag


def _text(element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip() if name != "content:encoded" else (child.text or "")
    return ""


def _gmt(value: str) -> datetime | None:
    value = (value or "").strip()
    if not value or value.startswith("0000"):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def _path(url: str) -> str:
    parts = urlsplit(url or "")
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class _Attachment:
    id: str
    url: str
    title: str
    parent: str
    file: str  # relative to wp-content/uploads


@dataclass
class WxrSource:
    path: Path
    media_dir: Path | None
    name: str = ""
    base_url: str = ""
    total: int = 0
    authors: list[UserItem] = field(default_factory=list)
    categories: list[CategoryItem] = field(default_factory=list)
    tags: list[TagItem] = field(default_factory=list)
    attachments: dict[str, _Attachment] = field(default_factory=dict)
    types: Counter = field(default_factory=Counter)
    _by_url: dict[str, str] = field(default_factory=dict)  # attachment URL path -> our URL

    # --- pass 1 --------------------------------------------------------------------------

    def scan(self) -> None:
        """Check the whole file and collect the small things (raises Invalid for bad XML)."""
        saw_rss = False
        for element, parent in _stream(self.path, ("item", "wp:author", "wp:category", "wp:tag", "wp:base_blog_url", "link")):
            name = _local(element.tag)
            saw_rss = True
            if name == "wp:base_blog_url" or (name == "link" and parent == "channel" and not self.base_url):
                self.base_url = (element.text or "").strip().rstrip("/") or self.base_url
            elif name == "wp:author":
                login = _text(element, "wp:author_login")
                self.authors.append(UserItem(key=login, username=login, email=_text(element, "wp:author_email"),
                                             bio=_text(element, "wp:author_display_name")))
            elif name == "wp:category":
                slug = _text(element, "wp:category_nicename")
                self.categories.append(CategoryItem(key=slug, slug=slug, name=html_lib.unescape(_text(element, "wp:cat_name")),
                                                    parent_key=_text(element, "wp:category_parent") or None,
                                                    description=_text(element, "wp:category_description")))
            elif name == "wp:tag":
                slug = _text(element, "wp:tag_slug")
                self.tags.append(TagItem(key=slug, slug=slug, name=html_lib.unescape(_text(element, "wp:tag_name"))))
            elif name == "item":
                kind = _text(element, "wp:post_type")
                self.types[kind] += 1
                if kind == "attachment":
                    meta = _meta(element)
                    url = _text(element, "wp:attachment_url")
                    self.attachments[_text(element, "wp:post_id")] = _Attachment(
                        _text(element, "wp:post_id"), url, _text(element, "title"), _text(element, "wp:post_parent"),
                        meta.get("_wp_attached_file") or _upload_path(url))
        if not saw_rss:
            raise Invalid("This XML file is not a WordPress export (no WXR channel found).")
        self.name = f"wxr:{self.base_url or self.path.name}"
        self.categories = _parents_first(self.categories)
        self.total = (len(self.authors) + len(self.categories) + len(self.tags) + len(self.attachments)
                      + self.types["post"] + self.types["page"] + 1)

    # --- pass 2 --------------------------------------------------------------------------

    def load(self, writer: Writer) -> None:
        report = writer.report
        for author in self.authors:
            with writer.item("user", author.username):
                writer.user(author)
        for category in self.categories:
            with writer.item("category", category.slug):
                writer.category(category)
        for tag in self.tags:
            with writer.item("tag", tag.slug):
                writer.tag(tag)
        self._media(writer)
        for kind, count in sorted(self.types.items()):
            if kind not in ("post", "page", "attachment"):
                report.note(kind or "unknown", f"{count} items", "not imported: our blog has no such kind of content"
                            + (" (navigation menus: put pages in the header from the editor)" if kind == "nav_menu_item" else ""))
                report.counts[kind or "unknown"]["skipped"] += count
        for element, _ in _stream(self.path, ("item",)):
            kind = _text(element, "wp:post_type")
            if kind in ("post", "page"):
                self._item(writer, element, kind)
        with writer.item("redirect", "site addresses"):
            for old, new in (("/feed/", "/feed.xml"), ("/comments/feed/", "/feed.xml"), ("/feed/atom/", "/feed.xml")):
                writer.redirect(old, new)
            for author in self.authors:
                user_id = writer.local_id("user", author.key)
                if user_id:
                    from blog.extensions import db
                    from blog.models import User

                    user = db.session.get(User, user_id)
                    writer.redirect(f"/author/{author.key}/", f"/user/{user.username}")
            for category in self.categories:
                path = "/".join(self._category_path(category.key))
                writer.redirect(f"/category/{path}/", f"/category/{category.slug}")
                writer.redirect(f"/category/{path}/feed/", f"/category/{category.slug}/feed.xml")
            for tag in self.tags:
                writer.redirect(f"/tag/{tag.slug}/feed/", f"/tag/{tag.slug}/feed.xml")

    def _category_path(self, key: str) -> list[str]:
        by_key = {c.key: c for c in self.categories}
        path, seen = [], set()
        while key and key in by_key and key not in seen:
            seen.add(key)
            path.insert(0, by_key[key].slug)
            key = by_key[key].parent_key
        return path

    def _media(self, writer: Writer) -> None:
        from blog.services import media

        for attachment in self.attachments.values():
            data = None
            if self.media_dir is not None and attachment.file:
                candidate = (self.media_dir / attachment.file).resolve()
                if candidate.is_relative_to(self.media_dir.resolve()) and candidate.is_file():
                    data = candidate.read_bytes()
            with writer.item("media", attachment.file or attachment.url):
                name = writer.media(MediaItem(key=attachment.id, label=attachment.file, data=data))
                url = media.imported_image_url(name)
                self._by_url[_upload_key(attachment.url)] = url

    def _rewrite(self, url: str) -> str:
        """Addresses of imported attachments (any resized copy too) become ours."""
        key = _upload_key(url)
        found = self._by_url.get(key) or self._by_url.get(_SIZED.sub("", key))
        if found:
            return found
        base = self.base_url
        if base and url.startswith(base):  # a link to another post of the old blog: its old path redirects
            return _path(url) or "/"
        return url

    def _gallery(self, parent_id: str):
        def images(attrs: dict[str, str]) -> list[tuple[str, str]]:
            ids = [i.strip() for i in (attrs.get("ids") or attrs.get("include") or "").split(",") if i.strip()]
            chosen = [self.attachments[i] for i in ids if i in self.attachments] if ids else \
                [a for a in self.attachments.values() if a.parent == parent_id]
            return [(self._rewrite(a.url), a.title) for a in chosen if a.url]
        return images

    def _item(self, writer: Writer, element, kind: str) -> None:
        wp_id = _text(element, "wp:post_id")
        title = html_lib.unescape(_text(element, "title"))
        label = f"{kind} {wp_id} {title[:50]!r}"
        with writer.item(kind, label):
            wp_status = _text(element, "wp:status")
            if wp_status not in STATUSES:
                raise_skip(f"WordPress status {wp_status!r} (trash and auto-drafts are not imported)")
            status, mention = STATUSES[wp_status]
            notes: list[tuple[str, str]] = []
            if mention:
                notes.append(("changed", f"private in WordPress: imported as a draft"))
            if _text(element, "wp:post_password"):
                status = "draft"
                notes.append(("changed", "password-protected in WordPress: imported as a draft (we have no post passwords)"))
            if _text(element, "wp:is_sticky") == "1":
                notes.append(("note", "sticky in WordPress (we do not pin posts)"))
            converted = wp_html.convert(_text(element, "content:encoded"), rewrite_url=self._rewrite,
                                        gallery=self._gallery(wp_id))
            notes += [("note", n) for n in converted.notes]
            excerpt = html_lib.unescape(" ".join(re.sub(r"<[^>]+>", " ", _text(element, "excerpt:encoded")).split()))
            published = _gmt(_text(element, "wp:post_date_gmt")) or _gmt(_text(element, "wp:post_date"))
            modified = _gmt(_text(element, "wp:post_modified_gmt")) or published
            categories, tags, formats = [], [], []
            for child in element:
                if _local(child.tag) == "category":
                    domain, nicename = child.get("domain"), child.get("nicename")
                    if domain == "category":
                        categories.append(nicename)
                    elif domain == "post_tag":
                        tags.append(nicename)
                    elif domain == "post_format":
                        formats.append(nicename)
            if len(categories) > 1:
                # One category per post here: keep the most specific (deepest) one, say which were left.
                keep = max(categories, key=lambda c: (len(self._category_path(c)), c != "uncategorized"))
                others = [c for c in categories if c != keep]
                categories = [keep, *others]
                shown = ", ".join(others[:8]) + (f" and {len(others) - 8} more" if len(others) > 8 else "")
                notes.append(("changed", f"in {len(others) + 1} categories: kept {keep!r}, not {shown} (one category per post here)"))
            if formats:
                notes.append(("note", f"post format {formats[0]} not kept"))
            if kind == "page" and _text(element, "wp:post_parent") not in ("", "0"):
                notes.append(("note", "a child page in WordPress: our pages are not nested"))
            meta = _meta(element)
            cover = None
            thumb = meta.get("_thumbnail_id")
            if thumb and thumb in self.attachments:
                from blog.services import media

                name = writer.local_name("media", thumb)
                path = media.imported_image_path(name) if name else None
                if path is not None:
                    cover = (path.read_bytes(), None, f"thumb:{wp_id}:{thumb}")
                else:
                    notes.append(("note", f"featured image {self.attachments[thumb].file} not found"))
            slug = unquote(_text(element, "wp:post_name"))  # WordPress keeps non-ASCII slugs percent-encoded
            link_path = _path(_text(element, "link"))
            old = [f"/?p={wp_id}"] + ([f"/?page_id={wp_id}"] if kind == "page" else [])
            if link_path and link_path != "/":
                old.append(link_path)
            local_date = _gmt(_text(element, "wp:post_date"))
            if kind == "post" and slug and local_date:
                old += [f"/{local_date:%Y/%m/%d}/{slug}/", f"/{local_date:%Y/%m}/{slug}/"]
            item = PostItem(
                key=wp_id, title=title, body=converted.markdown, slug=slug, kind=kind, status=status,
                summary=excerpt or converted.teaser, author_key=_text(element, "dc:creator") or None,
                category_key=categories[0] if categories else None,
                tag_keys=tags, created_at=published, updated_at=modified,
                published_at=published, comments_enabled=_text(element, "wp:comment_status") != "closed",
                cover=cover, old_paths=old, notes=notes)
            if kind == "page" and not item.slug:
                item.slug = ""
            writer.post(item)
        self._comments(writer, element, wp_id, label)

    def _comments(self, writer: Writer, element, wp_id: str, label: str) -> None:
        comments = [c for c in element if _local(c.tag) == "wp:comment"]
        rows = []
        for c in comments:
            rows.append({k: _text(c, f"wp:{k}") for k in (
                "comment_id", "comment_author", "comment_author_email", "comment_author_url", "comment_date_gmt",
                "comment_date", "comment_content", "comment_approved", "comment_type", "comment_parent")})
        rows.sort(key=lambda r: int(r["comment_id"]) if r["comment_id"].isdigit() else 0)
        for row in rows:
            key = f"{wp_id}:{row['comment_id']}"
            if row["comment_type"] in ("pingback", "trackback"):
                writer.report.skipped("comment", f"{row['comment_type']} {key} from {row['comment_author_url'] or row['comment_author']}",
                                      f"{row['comment_type']}s are not comments here")
                continue
            with writer.item("comment", key, count=False):
                converted = wp_html.convert(row["comment_content"], paragraphs=True)
                parent = row["comment_parent"]
                author_key = None
                email = row["comment_author_email"].lower()
                for author in self.authors:
                    if email and author.email.lower() == email:
                        author_key = author.key
                writer.comment(CommentItem(
                    key=key, post_key=wp_id, body=converted.markdown,
                    status=COMMENT_STATUSES.get(row["comment_approved"], "pending"),
                    parent_key=f"{wp_id}:{parent}" if parent not in ("", "0") else None,
                    author_key=author_key, author_name=html_lib.unescape(row["comment_author"]) or None,
                    author_email=row["comment_author_email"] or None, author_url=row["comment_author_url"] or None,
                    created_at=_gmt(row["comment_date_gmt"]) or _gmt(row["comment_date"])))


def raise_skip(reason: str) -> None:
    from blog.services.importers.writer import Skip

    raise Skip(reason)


def _meta(element) -> dict[str, str]:
    meta = {}
    for child in element:
        if _local(child.tag) == "wp:postmeta":
            meta[_text(child, "wp:meta_key")] = _text(child, "wp:meta_value")
    return meta


def _upload_path(url: str) -> str:
    path = urlsplit(url or "").path
    for marker in ("/wp-content/uploads/", "/files/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path.lstrip("/")


def _upload_key(url: str) -> str:
    """What identifies an uploaded file whatever host or size suffix the address uses: its uploads path."""
    return _upload_path(html_lib.unescape(url or "").split("?", 1)[0])


def _parents_first(categories: list[CategoryItem]) -> list[CategoryItem]:
    by_key = {c.key: c for c in categories}
    done: set[str] = set()
    ordered: list[CategoryItem] = []

    def visit(category: CategoryItem, trail: frozenset) -> None:
        if category.key in done:
            return
        parent = by_key.get(category.parent_key or "")
        if parent is not None and parent.key not in trail:
            visit(parent, trail | {category.key})
        done.add(category.key)
        ordered.append(category)

    for category in categories:
        visit(category, frozenset())
    return ordered


def _stream(path: Path, wanted: tuple[str, ...]):
    """Yield ``(element, parent name)`` for each complete element named in ``wanted``, then free it.

    Raises:
        Invalid: the file is not well-formed XML, or it declares entities (an XML bomb) or a DTD.
    """
    stack: list = []
    try:
        for event, element in iterparse(str(path), events=("start", "end"), forbid_dtd=True):
            if event == "start":
                stack.append(element)
                continue
            stack.pop()
            name = _local(element.tag)
            inside_item = any(_local(e.tag) == "item" for e in stack)
            if name in wanted and not (inside_item and name != "item"):
                yield element, (_local(stack[-1].tag) if stack else "")
                if stack and name in ("item", "wp:author", "wp:category", "wp:tag"):
                    stack[-1].remove(element)  # bounded memory: nothing accumulates under <channel>
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise Invalid(f"The file is not well-formed XML (line {line}, column {column}): it may be truncated.") from None
    except DefusedXmlException as exc:
        raise Invalid(f"The file was refused: {type(exc).__name__} (entity declarations and DTDs are not allowed).") from None


def open_source(path: Path, *, media_dir: Path | None = None) -> WxrSource:
    """Read a WXR file's first pass; bad XML raises Invalid before anything is written."""
    source = WxrSource(path=path, media_dir=media_dir)
    source.scan()
    return source
