"""Our own JSON export (``export.json``, format ``inkwell-export``) back in: users, the category tree,
tags, posts and pages with their comments, redirects, and the media files beside it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from blog.services.errors import Invalid
from blog.services.importers.items import CategoryItem
from blog.services.importers.items import CommentItem
from blog.services.importers.items import PostItem
from blog.services.importers.items import TagItem
from blog.services.importers.items import UserItem
from blog.services.importers.writer import Writer
from blog.services.importers.writer import parse_datetime

SOURCE = "inkwell-json"


def read_file(root: Path, relative: str | None) -> bytes | None:
    """The bytes of a file the export refers to, refusing any path that leaves its folder."""
    if not relative:
        return None
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        return None
    return path.read_bytes()


def category_key(path: list[str] | str | None) -> str | None:
    """A category is known by its slug (the last part of its path)."""
    if not path:
        return None
    parts = path if isinstance(path, list) else str(path).strip("/").split("/")
    return str(parts[-1]) if parts else None


@dataclass
class JsonSource:
    root: Path
    document: dict
    name: str = SOURCE
    total: int = 0
    posts: list = field(default_factory=list)

    def load(self, writer: Writer) -> None:
        doc = self.document
        for user in doc.get("users", []):
            with writer.item("user", str(user.get("username"))):
                writer.user(UserItem(key=str(user["username"]), username=str(user["username"]), email=user.get("email") or "",
                                     role=user.get("role") or "author", bio=user.get("bio") or "",
                                     created_at=parse_datetime(user.get("created_at"))))
        for category in _parents_first(doc.get("categories", [])):
            with writer.item("category", str(category.get("slug"))):
                writer.category(CategoryItem(key=str(category["slug"]), slug=str(category["slug"]),
                                             name=str(category.get("name") or category["slug"]),
                                             parent_key=category.get("parent"), description=category.get("description") or ""))
        for tag in doc.get("tags", []):
            with writer.item("tag", str(tag.get("slug"))):
                writer.tag(TagItem(key=str(tag["slug"]), slug=str(tag["slug"]), name=str(tag.get("name") or tag["slug"])))
        for post in doc.get("posts", []):
            if not isinstance(post, dict):
                writer.report.skipped("post", repr(post)[:40], "not an object")
                continue
            kind = post.get("kind") or "post"
            slug = str(post.get("slug") or "")
            with writer.item(kind if kind in ("post", "page") else "post", slug or str(post.get("title"))[:40]):
                if kind not in ("post", "page"):
                    raise Invalid(f"unknown kind {kind!r}")
                cover = read_file(self.root, post.get("cover"))
                if post.get("cover") and cover is None:
                    writer.report.note(kind, slug, f"cover file {post['cover']} not found beside the export")
                writer.post(PostItem(
                    key=slug, title=str(post.get("title") or ""), body=str(post.get("body") or ""), slug=slug, kind=kind,
                    status=str(post.get("status") or "draft"), summary=str(post.get("summary") or ""),
                    author_key=post.get("author"), category_key=category_key(post.get("category")),
                    tag_keys=[str(t) for t in post.get("tags") or []],
                    created_at=parse_datetime(post.get("created_at")), updated_at=parse_datetime(post.get("updated_at")),
                    published_at=parse_datetime(post.get("published_at")),
                    comments_enabled=bool(post.get("comments_enabled", True)),
                    nav_order=post.get("nav_order") if isinstance(post.get("nav_order"), int) else None,
                    cover=(cover, Path(post["cover"]).name, f"{slug}:{post['cover']}") if cover else None,
                    old_paths=[f"/blog/{old}" for old in post.get("old_slugs") or []]))
            for comment in post.get("comments") or []:
                ref = comment.get("ref")
                with writer.item("comment", f"{slug}#{ref}", count=False):
                    writer.comment(CommentItem(
                        key=f"{slug}#{ref}", post_key=slug, body=str(comment.get("body") or ""),
                        status=str(comment.get("status") or "pending"),
                        parent_key=f"{slug}#{comment['parent']}" if comment.get("parent") else None,
                        author_key=comment.get("author"), author_name=comment.get("author_name"),
                        author_email=comment.get("author_email"), author_url=comment.get("author_url"),
                        created_at=parse_datetime(comment.get("created_at")),
                        deleted_at=parse_datetime(comment.get("deleted_at"))))
        redirects = doc.get("redirects") or []
        if redirects:
            with writer.item("redirect", f"{len(redirects)} redirects"):
                for row in redirects:
                    writer.redirect(str(row["old_path"]), str(row["target"]))


def _parents_first(categories: list[dict]) -> list[dict]:
    by_slug = {c.get("slug"): c for c in categories if isinstance(c, dict)}
    ordered, done = [], set()

    def visit(category: dict, trail: frozenset) -> None:
        slug = category.get("slug")
        if slug in done:
            return
        parent = by_slug.get(category.get("parent"))
        if parent is not None and parent.get("slug") not in trail:
            visit(parent, trail | {slug})
        done.add(slug)
        ordered.append(category)

    for category in by_slug.values():
        visit(category, frozenset())
    return ordered


def open_source(path: Path, *, media_dir: Path | None = None) -> JsonSource:
    """Parse the export document (a folder with ``export.json``, or the file itself).

    Raises:
        Invalid: not JSON, not our format, or a newer version than we read.
    """
    from blog.services.export import VERSION

    file = path / "export.json" if path.is_dir() else path
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid(f"{file} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != "inkwell-export":
        raise Invalid(f"{file} is JSON but not an Inkwell export (no \"format\": \"inkwell-export\").")
    if not isinstance(document.get("version"), int) or document["version"] > VERSION:
        raise Invalid(f"{file} is export version {document.get('version')!r}; this blog reads up to {VERSION}.")
    for key in ("users", "categories", "tags", "posts", "redirects"):
        if not isinstance(document.get(key, []), list):
            raise Invalid(f"{file}: {key!r} must be a list.")
    source = JsonSource(root=(media_dir or file.parent), document=document)
    doc = document
    source.total = len(doc.get("users", [])) + len(doc.get("categories", [])) + len(doc.get("tags", [])) + \
        len(doc.get("posts", [])) + (1 if doc.get("redirects") else 0)
    return source
