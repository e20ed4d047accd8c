"""The sitemap (every public page, never a private one) and robots.txt, for crawlers and static hosts.

Past ``MAX_URLS`` URLs or ``MAX_BYTES`` bytes in one file (the sitemaps.org limits), ``/sitemap.xml``
becomes a sitemap index of numbered parts ``/sitemap-<n>.xml``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

from flask import current_app
from flask import url_for
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Category
from blog.models import Post
from blog.models import Tag
from blog.models import User
from blog.models import post_tags

MAX_URLS = 50_000
MAX_BYTES = 50 * 1024 * 1024
_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
_TAIL = "</urlset>\n"

#: Paths crawlers are kept out of: private, per-user, API, search results (also noindex) and mail links.
PRIVATE_PATHS = ("/admin/", "/admin$", "/auth/", "/my/", "/api/", "/search$", "/search?",
                 "/subscriptions", "/subscribe/confirm/", "/unsubscribe/", "/blog/create", "/blog/preview")


@dataclass(frozen=True)
class Entry:
    """One URL of the sitemap."""

    loc: str
    lastmod: datetime | None = None


def entries() -> list[Entry]:
    """Every public page: home, archive, tags, published posts, categories, used tags, authors, archive periods.

    Drafts, pending, scheduled and archived posts are never listed (archived ones are readable,
    but out of listings). A fixed number of queries, whatever the size of the site.
    """
    site = current_app.config["SITE_URL"]
    # Static pages (kind "page") live at /<slug> and count in no listing, archive or author page.
    published = (Post.status == "published") & (Post.kind == "post")
    newest = db.session.scalar(select(func.max(Post.updated_at)).where(published))
    found = [Entry(site + url_for("main.index"), newest), Entry(site + url_for("main.archive_index"), newest),
             Entry(site + url_for("main.tags"), newest)]
    for slug, updated in db.session.execute(
            select(Post.slug, Post.updated_at).where(published).order_by(Post.published_at.desc(), Post.id.desc())):
        found.append(Entry(site + url_for("posts.detail", slug=slug), updated))
    for slug, updated in db.session.execute(
            select(Post.slug, Post.updated_at).where(Post.status == "published", Post.kind == "page").order_by(Post.slug)):
        found.append(Entry(site + url_for("pages.page", slug=slug), updated))
    for slug, updated in db.session.execute(
            select(Category.slug, func.max(Post.updated_at))
            .outerjoin(Post, (Post.category_id == Category.id) & published)
            .group_by(Category.id, Category.slug).order_by(Category.slug)):
        found.append(Entry(site + url_for("main.category", slug=slug), updated))
    for slug, updated in db.session.execute(
            select(Tag.slug, func.max(Post.updated_at)).join(post_tags, post_tags.c.tag_id == Tag.id)
            .join(Post, (Post.id == post_tags.c.post_id) & published).group_by(Tag.id, Tag.slug).order_by(Tag.slug)):
        found.append(Entry(site + url_for("main.tag", slug=slug), updated))
    for username, updated in db.session.execute(
            select(User.username, func.max(Post.updated_at)).join(Post, (Post.author_id == User.id) & published)
            .where(User.is_active.is_(True)).group_by(User.id, User.username).order_by(User.username)):
        found.append(Entry(site + url_for("users.profile", username=username), updated))
    year, month = func.extract("year", Post.published_at), func.extract("month", Post.published_at)
    years: dict[int, datetime | None] = {}
    for y, m, updated in db.session.execute(
            select(year, month, func.max(Post.updated_at)).where(published).group_by(year, month)
            .order_by(year.desc(), month.desc())):
        years[int(y)] = max(filter(None, (years.get(int(y)), updated)), default=None)
        found.append(Entry(site + url_for("main.archive", year=int(y), month=int(m)), updated))
    found += [Entry(site + url_for("main.archive", year=y), updated) for y, updated in years.items()]
    return found


def _w3c(value: datetime | None) -> str:
    return (value or datetime(1970, 1, 1)).replace(microsecond=0, tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _url(entry: Entry) -> str:
    lastmod = f"<lastmod>{_w3c(entry.lastmod)}</lastmod>" if entry.lastmod else ""
    return f"<url><loc>{escape(entry.loc)}</loc>{lastmod}</url>\n"


def split(found: list[Entry]) -> list[list[str]]:
    """The rendered ``<url>`` lines in parts of at most MAX_URLS URLs and MAX_BYTES bytes each."""
    parts: list[list[str]] = [[]]
    size = len(_HEAD) + len(_TAIL)
    for entry in found:
        line = _url(entry)
        if parts[-1] and (len(parts[-1]) >= MAX_URLS or size + len(line.encode()) > MAX_BYTES):
            parts.append([])
            size = len(_HEAD) + len(_TAIL)
        parts[-1].append(line)
        size += len(line.encode())
    return parts


def documents() -> dict[str, str]:
    """File name to XML: ``sitemap.xml`` alone, or the index and ``sitemap-1.xml`` ... past the limits."""
    found = entries()
    parts = split(found)
    if len(parts) == 1:
        return {"sitemap.xml": _HEAD + "".join(parts[0]) + _TAIL}
    site = current_app.config["SITE_URL"]
    newest = _w3c(max((e.lastmod for e in found if e.lastmod), default=None))
    index = ['<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n']
    docs: dict[str, str] = {}
    for number, lines in enumerate(parts, start=1):
        docs[f"sitemap-{number}.xml"] = _HEAD + "".join(lines) + _TAIL
        index.append(f"<sitemap><loc>{escape(site + url_for('main.sitemap_part', number=number))}</loc>"
                     f"<lastmod>{newest}</lastmod></sitemap>\n")
    index.append("</sitemapindex>\n")
    return {"sitemap.xml": "".join(index), **docs}


def last_modified() -> datetime | None:
    """When a published post last changed (the sitemap's Last-Modified)."""
    return db.session.scalar(select(func.max(Post.updated_at)).where(Post.status == "published"))


def robots() -> str:
    """robots.txt: the sitemap's address, and the private paths crawlers stay out of."""
    site = current_app.config["SITE_URL"]
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in PRIVATE_PATHS), "",
             f"Sitemap: {site}{url_for('main.sitemap')}", ""]
    return "\n".join(lines)


def write(folder: str | Path) -> list[Path]:
    """Write the sitemap file(s) and robots.txt into ``folder`` (for a static host); the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in {**documents(), "robots.txt": robots()}.items():
        path = folder / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)  # whole files only, for whoever serves the folder meanwhile
        written.append(path)
    return written
