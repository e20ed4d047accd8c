"""A folder of Markdown files with YAML front matter (ours, Jekyll's or Hugo's) in: one post or page per file."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from blog.services.errors import Invalid
from blog.services.importers.items import CategoryItem
from blog.services.importers.items import PostItem
from blog.services.importers.items import TagItem
from blog.services.importers.items import UserItem
from blog.services.importers.ours_json import read_file
from blog.services.importers.writer import Skip
from blog.services.importers.writer import Writer
from blog.services.importers.writer import parse_datetime

SOURCE = "markdown"
MAX_FILE_BYTES = 1024 * 1024
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.S)
_JEKYLL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}-")


def split(text: str) -> tuple[dict, str]:
    """The front matter (a mapping) and the body after it.

    Raises:
        Skip: the front matter is not valid YAML, or not a mapping.
    """
    match = _FRONT.match(text)
    if not match:
        return {}, text
    try:
        fields = yaml.safe_load(match[1]) or {}
    except yaml.YAMLError as exc:
        raise Skip(f"the front matter is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(fields, dict):
        raise Skip("the front matter is not a mapping of fields")
    return fields, text[match.end():]


def _list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value if v is not None] if isinstance(value, list) else [str(value)]


@dataclass
class MarkdownSource:
    root: Path
    files: list[Path]
    name: str = SOURCE
    total: int = 0

    def load(self, writer: Writer) -> None:
        from slugify import slugify

        for file in self.files:
            slug_from_name = _JEKYLL_DATE.sub("", file.stem)
            with writer.item("post", file.name):
                if file.stat().st_size > MAX_FILE_BYTES:
                    raise Skip(f"larger than {MAX_FILE_BYTES // 1024} KB")
                try:
                    text = file.read_text(encoding="utf-8")
                except UnicodeDecodeError:
                    raise Skip("not UTF-8 text") from None
                fields, body = split(text)
                kind = str(fields.get("kind") or fields.get("layout") or "post")
                kind = "page" if kind == "page" else "post"
                slug = str(fields.get("slug") or slug_from_name)
                status = str(fields.get("status") or ("draft" if fields.get("draft") else "published"))
                author = fields.get("author")
                author_key = None
                if author:
                    author_key = f"user:{author}"
                    if writer.local_id("user", author_key) is None:
                        writer.user(UserItem(key=author_key, username=str(author)))
                category = fields.get("category") or (_list(fields.get("categories"))[:1] or None)
                category_key = None
                if category:
                    parts = category if isinstance(category, list) else str(category).strip("/").split("/")
                    parent = None
                    for part in parts:
                        key = slugify(str(part)) or str(part)
                        if writer.local_id("category", key) is None:
                            writer.category(CategoryItem(key=key, slug=key, name=str(part), parent_key=parent))
                        parent = key
                    category_key = parent
                tag_keys = []
                for name in _list(fields.get("tags")):
                    key = f"tag:{name.lower()}"
                    if writer.local_id("tag", key) is None:
                        writer.tag(TagItem(key=key, slug=slugify(name), name=name))
                    tag_keys.append(key)
                cover_path = fields.get("cover") or fields.get("image")
                cover = read_file(self.root, str(cover_path)) if cover_path else None
                if cover_path and cover is None:
                    writer.report.note(kind, slug, f"cover file {cover_path} not found")
                published = parse_datetime(fields.get("published_at") or fields.get("date"))
                writer.post(PostItem(
                    key=slug, title=str(fields.get("title") or ""), body=body, slug=slug, kind=kind, status=status,
                    summary=str(fields.get("summary") or fields.get("description") or fields.get("excerpt") or ""),
                    author_key=author_key, category_key=category_key, tag_keys=tag_keys,
                    created_at=parse_datetime(fields.get("created_at")) or published,
                    updated_at=parse_datetime(fields.get("updated_at") or fields.get("lastmod")),
                    published_at=published, comments_enabled=fields.get("comments_enabled", True) is not False,
                    nav_order=fields.get("nav_order") if isinstance(fields.get("nav_order"), int) else None,
                    cover=(cover, Path(str(cover_path)).name, f"{slug}:{cover_path}") if cover else None))


def open_source(path: Path, *, media_dir: Path | None = None) -> MarkdownSource:
    """The Markdown files of a folder (or one file), in name order."""
    if path.is_dir():
        files = sorted([*path.glob("*.md"), *path.glob("*.markdown")])
    else:
        files = [path]
    if not files:
        raise Invalid(f"There are no Markdown files in {path}.")
    root = media_dir or (path if path.is_dir() else path.parent)
    return MarkdownSource(root=root, files=files, total=len(files))
