"""Exporting everything the blog owns: one JSON document (versioned), or Markdown files with YAML front matter.

Both are read in one transaction (one snapshot: REPEATABLE READ on PostgreSQL, SQLite's read
transaction), so the export is consistent while the site keeps serving. Rows are streamed in
pages of ``BATCH``; ids of our database never appear (posts are known by slug, users by
username, comments by their place in the thread), so export → import into an empty blog →
export gives the same files.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from blog.extensions import db
from blog.models import Category
from blog.models import Comment
from blog.models import Post
from blog.models import PostRedirect
from blog.models import Redirect
from blog.models import Tag
from blog.models import User
from blog.services import media

#: The version of the JSON document; readers refuse a newer one.
VERSION = 1
FORMATS = ("json", "markdown")
BATCH = 200


def iso(value: datetime | None) -> str | None:
    """``2024-05-01T09:00:00Z`` for a naive-UTC datetime."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def count() -> int:
    """How many posts and pages an export goes through (for the progress bar)."""
    return db.session.scalar(select(func.count()).select_from(Post)) or 0


def _snapshot() -> None:
    """Start the export's transaction: every following read sees the same snapshot."""
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        db.session.connection()  # pysqlite begins lazily: the first SELECT below starts the read transaction


def _category_paths() -> dict[int, list[str]]:
    rows = {c.id: c for c in db.session.scalars(select(Category))}
    paths = {}
    for cid in rows:
        path, seen, node = [], set(), rows[cid]
        while node is not None and node.id not in seen:
            seen.add(node.id)
            path.insert(0, node.slug)
            node = rows.get(node.parent_id) if node.parent_id else None
        paths[cid] = path
    return paths


def _posts() -> Iterator[Post]:
    last = ""
    while True:
        batch = list(db.session.scalars(
            select(Post).options(selectinload(Post.tags), selectinload(Post.author))
            .where(Post.slug > last).order_by(Post.slug).limit(BATCH)))
        if not batch:
            return
        yield from batch
        last = batch[-1].slug
        db.session.expunge_all()  # bounded memory on a big blog; the snapshot stays


def _comments(post_id: int, users: dict[int, str]) -> list[dict]:
    rows = list(db.session.scalars(select(Comment).where(Comment.post_id == post_id).order_by(Comment.created_at, Comment.id)))
    refs = {c.id: n for n, c in enumerate(rows, 1)}
    return [{"ref": refs[c.id], "parent": refs.get(c.parent_id), "author": users.get(c.author_id),
             "author_name": c.author_name, "author_email": c.author_email, "author_url": c.author_url,
             "body": c.body, "status": c.status, "created_at": iso(c.created_at), "deleted_at": iso(c.deleted_at)}
            for c in rows]


def _copy_cover(post: Post, out: Path) -> str | None:
    """Copy the cover's original into ``out/media/covers/`` and return its path relative to ``out``."""
    path = media.cover_original_path(post.cover_image)
    if path is None:
        return None
    target = out / "media" / "covers" / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return f"media/covers/{path.name}"


def _copy_media(out: Path) -> list[str]:
    """Copy imported images (UPLOAD_FOLDER/media/) that posts use into ``out/media/files/``."""
    from blog.models import ImportedItem

    names = sorted(set(db.session.scalars(select(ImportedItem.local_name).where(ImportedItem.kind == "media",
                                                                                   ImportedItem.local_name.is_not(None)))))
    copied = []
    for name in names:
        path = media.imported_image_path(name)
        if path is not None:
            target = out / "media" / "files" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            copied.append(f"media/files/{name}")
    return copied


def _post_fields(post: Post, paths: dict[int, list[str]], out: Path) -> dict:
    return {
        "title": post.title, "slug": post.slug, "kind": post.kind, "status": post.status,
        "created_at": iso(post.created_at), "updated_at": iso(post.updated_at), "published_at": iso(post.published_at),
        "author": post.author.username, "category": paths.get(post.category_id, []) if post.category_id else [],
        "tags": [t.slug for t in sorted(post.tags, key=lambda t: t.slug)],
        "summary": post.summary, "cover": _copy_cover(post, out), "comments_enabled": post.comments_enabled,
        "nav_order": post.nav_order,
    }


def export(fmt: str, out: Path, *, progress: Callable[[int], None] = lambda n: None) -> dict[str, int]:
    """Write the export in ``fmt`` into the folder ``out``; returns counts per kind.

    Raises:
        ValueError: an unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    out.mkdir(parents=True, exist_ok=True)
    _snapshot()
    try:
        paths = _category_paths()
        users = {u.id: u.username for u in db.session.scalars(select(User))}
        counts = {"posts": 0, "pages": 0, "comments": 0}
        if fmt == "json":
            document = _document(paths, users, out, counts, progress)
            (out / "export.json").write_text(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n",
                                             encoding="utf-8")
        else:
            for post in _posts():
                fields = _post_fields(post, paths, out)
                fields["tags"] = sorted((t.name for t in post.tags), key=str.lower)  # names, as Jekyll and Hugo files have them
                (out / f"{post.slug}.md").write_text(front_matter(fields) + post.body, encoding="utf-8")
                counts["pages" if post.kind == "page" else "posts"] += 1
                progress(1)
        counts["media"] = len(_copy_media(out))
        return counts
    finally:
        db.session.rollback()


def _document(paths, users, out: Path, counts: dict[str, int], progress) -> dict:
    categories = sorted(db.session.scalars(select(Category)), key=lambda c: "/".join(paths[c.id]))
    by_id = {c.id: c for c in categories}
    document = {
        "format": "inkwell-export", "version": VERSION,
        "users": [{"username": u.username, "email": u.email, "role": u.role, "bio": u.bio,
                   "social_links": u.social_links or {}, "active": u.is_active, "created_at": iso(u.created_at)}
                  for u in db.session.scalars(select(User).order_by(User.username))],
        "categories": [{"slug": c.slug, "name": c.name, "description": c.description,
                        "parent": by_id[c.parent_id].slug if c.parent_id in by_id else None} for c in categories],
        "tags": [{"slug": t.slug, "name": t.name} for t in db.session.scalars(select(Tag).order_by(Tag.slug))],
        "posts": [],
        "redirects": [{"old_path": r.old_path, "target": r.target}
                      for r in db.session.scalars(select(Redirect).order_by(Redirect.old_path))],
    }
    old_slugs: dict[int, list[str]] = {}
    for row in db.session.scalars(select(PostRedirect).order_by(PostRedirect.old_slug)):
        old_slugs.setdefault(row.post_id, []).append(row.old_slug)
    for post in _posts():
        fields = _post_fields(post, paths, out)
        fields["body"] = post.body
        fields["old_slugs"] = old_slugs.get(post.id, [])
        fields["comments"] = _comments(post.id, users)
        counts["comments"] += len(fields["comments"])
        counts["pages" if post.kind == "page" else "posts"] += 1
        document["posts"].append(fields)
        progress(1)
    return document


#: Front matter fields, in the order files show them (those that are None or empty are left out).
FRONT_MATTER = ("title", "slug", "kind", "status", "published_at", "created_at", "updated_at", "author",
                "category", "tags", "summary", "cover", "comments_enabled", "nav_order")


def front_matter(fields: dict) -> str:
    """``---`` YAML ``---``: the fields of FRONT_MATTER that have a value, in that order."""
    kept = {}
    for name in FRONT_MATTER:
        value = fields.get(name)
        if name == "kind" and value == "post":
            continue
        if name == "comments_enabled" and value is True:
            continue
        if value is None or value == "" or value == []:
            continue
        kept[name] = value
    return "---\n" + yaml.safe_dump(kept, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000) + "---\n"
