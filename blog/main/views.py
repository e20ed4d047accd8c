"""Listings (home, category, tag, archive), search, feeds, crawler files and the health check."""
from __future__ import annotations

from datetime import datetime
from functools import cached_property

from flask import Response
from flask import abort
from flask import current_app
from flask import make_response
from flask import redirect
from flask import url_for
from flask import jsonify
from flask import request
from flask import send_from_directory
from flask_sqlalchemy.pagination import Pagination

from blog.extensions import htmx
from blog.main import bp
from blog.rendering import page_number
from blog.rendering import conditional
from blog.rendering import render
from blog.rendering import wants_fragment
from blog.services import accounts
from blog.services import archive as archive_service
from blog.services import comments
from blog.services import feeds
from blog.services import fulltext
from blog.services import health
from blog.services import media
from blog.services import posts
from blog.services import reading
from blog.services import seo
from blog.services import sitemap as sitemap_service
from blog.services import subscriptions
from blog.services import taxonomy


#: How many of the most used tags the home page offers as filters.
FILTER_TAGS = 8


class Sidebar:
    """The sidebar widgets (and the home page's tag chips), queried only if a full page renders them."""

    def __init__(self, active_tag=None) -> None:
        self.active_tag = active_tag

    @cached_property
    def filter_tags(self) -> list[taxonomy.TagCount]:
        chips = sorted(taxonomy.tag_cloud(), key=lambda t: (-t.count, t.name))[:FILTER_TAGS]
        if self.active_tag and self.active_tag.slug not in {chip.slug for chip in chips}:
            chips.append(taxonomy.TagCount(self.active_tag.name, self.active_tag.slug, 0, 1))
        return chips

    @cached_property
    def categories(self):
        return taxonomy.category_tree()

    @cached_property
    def tags(self):
        return taxonomy.tag_cloud()

    @cached_property
    def months(self):
        return taxonomy.archive_months()

    @cached_property
    def popular(self):
        return posts.popular()

    @cached_property
    def authors(self):
        return accounts.authors()

    @cached_property
    def recent_comments(self):
        return comments.recent()


def _page_number() -> int:
    return page_number()


def _listing(page: Pagination, heading: str, endpoint: str, oob: tuple[str, ...] = (),
             sidebar: Sidebar | None = None, **context) -> Response:
    """One template for every list of posts; htmx pagination swaps only the list."""
    context.setdefault("feed_url", None)
    context.setdefault("filters", False)
    context.setdefault("active_tag", None)
    context.setdefault("month_headings", False)
    context.setdefault("alternates", None)
    context.setdefault("subscribe_scope", None)
    return render("main/index.html", block="post_list", page=page, heading=heading, endpoint=endpoint,
                  sidebar=sidebar or Sidebar(), oob=oob, cards=reading.cards(page.items), **context)


@bp.get("/")
def index() -> Response:
    """Published posts, newest first; tag chips filter the list in place (``?tag=``)."""
    slug = request.args.get("tag") or None
    tag = taxonomy.get_tag(slug) if slug else None
    page = posts.published(page=_page_number(), tag=tag)
    # A chip changes the heading and the active chip too: send them along out of band.
    chip_clicked = (htmx.trigger or "").startswith("tag-filter-")
    return _listing(page, f"Posts tagged #{tag.name}" if tag else "Latest posts", "main.index",
                    oob=("filters",) if chip_clicked else (), args={"tag": slug} if slug else {},
                    sidebar=Sidebar(active_tag=tag), filters=True, active_tag=slug)


@bp.get("/category/<slug>")
def category(slug: str) -> Response:
    """Posts in a category and all of its sub-categories."""
    found = taxonomy.get_category(slug)
    page = posts.published(page=_page_number(), category=found)
    return _listing(page, found.name, "main.category", args={"slug": slug},
                    feed_url=url_for("main.category_feed", slug=slug),
                    alternates=feeds.alternates("category_feed", slug=slug),
                    subscribe_scope=subscriptions.category_choice(found),
                    crumbs=taxonomy.breadcrumbs(found), description=found.description)


@bp.get("/tag/<slug>")
def tag(slug: str) -> Response:
    """Posts with a tag."""
    found = taxonomy.get_tag(slug)
    page = posts.published(page=_page_number(), tag=found)
    return _listing(page, f"Tagged #{found.name}", "main.tag", args={"slug": slug},
                    feed_url=url_for("main.tag_feed", slug=slug), alternates=feeds.alternates("tag_feed", slug=slug),
                    subscribe_scope=subscriptions.tag_choice(found))


class SearchFilters:
    """The choices offered beside the search results (cached widgets), and the ones in force."""

    def __init__(self, tag: str | None, category: str | None, author: str | None) -> None:
        self.tag, self.category, self.author = tag, category, author

    def args(self) -> dict[str, str]:
        """The filters in force, for links that keep them."""
        return {name: value for name in ("tag", "category", "author") if (value := getattr(self, name))}

    @cached_property
    def tags(self) -> list[tuple[str, str]]:
        chosen = [(tag.slug, f"#{tag.name}") for tag in taxonomy.tag_cloud(limit=200)]
        if self.tag and self.tag not in {slug for slug, _ in chosen}:
            chosen.append((self.tag, f"#{self.tag}"))
        return chosen

    @cached_property
    def categories(self) -> list[tuple[str, str]]:
        chosen: list[tuple[str, str]] = []

        def walk(nodes, depth: int) -> None:
            for node in nodes:
                chosen.append((node.slug, "\u2003" * depth + node.name))
                walk(node.children, depth + 1)

        walk(taxonomy.category_tree(), 0)
        if self.category and self.category not in {slug for slug, _ in chosen}:
            chosen.append((self.category, self.category))
        return chosen

    @cached_property
    def authors(self) -> list[tuple[str, str]]:
        chosen = [(author.username, author.username) for author in accounts.authors(limit=50)]
        if self.author and self.author not in {name for name, _ in chosen}:
            chosen.append((self.author, self.author))
        return chosen

    @cached_property
    def popular_tags(self) -> list[taxonomy.TagCount]:
        """Suggestions when nothing matched."""
        return sorted(taxonomy.tag_cloud(), key=lambda t: (-t.count, t.name))[:FILTER_TAGS]


@bp.get("/search")
def search() -> Response:
    """Full-text search with filters; htmx swaps only the results (the header box searches as you type)."""
    q = request.args.get("q", "")
    filters = SearchFilters(*(request.args.get(name, "").strip() or None for name in ("tag", "category", "author")))
    # The search clamps any page number itself (a page past the end says so, with a link back).
    page = fulltext.search(q, page=request.args.get("page", 1, type=int), per_page=current_app.config["POSTS_PER_PAGE"], **filters.args())
    fragment = wants_fragment()
    response = render("main/search.html", block="results", page=page, q=q, filters=filters, fragment=fragment)
    if fragment:
        # The address bar gets the tidy URL (no empty filters, no page=1), whatever the form sent.
        number = page.page if page.page > 1 else None
        response.headers["HX-Push-Url"] = url_for("main.search", q=q or None, page=number, **filters.args())
    return response


@bp.get("/tags")
def tags() -> Response:
    """Every tag used on a published post, sized by how often."""
    return render("main/tags.html", tags=taxonomy.tag_cloud(limit=500))


@bp.get("/archive/<int:year>")
@bp.get("/archive/<int:year>/<int:month>")
def archive(year: int, month: int | None = None) -> Response:
    """Posts published in a year or a month."""
    between = archive_service.period(year, month)
    page = posts.published(page=_page_number(), between=between)
    heading = f"Archive: {datetime(year, month, 1):%B %Y}" if month else f"Archive: {year}"
    args = {"year": year, "month": month} if month else {"year": year}
    return _listing(page, heading, "main.archive", args=args, month_headings=True)


def _feed(title: str, link: str, description: str, items, kind: str = "rss") -> Response:
    return feeds.feed_response(kind, title, link, description, items)


def _feed_kind() -> str:
    # The Atom routes below share these views: the path's suffix picks the format.
    return "atom" if request.path.endswith(".atom") else "rss"


@bp.get("/feed.xml")
def feed() -> Response:
    """RSS (or, at /feed.atom, Atom) of the newest posts; answers conditional GETs with 304."""
    config = current_app.config
    return _feed(config["SITE_NAME"], config["SITE_URL"] + "/", config["SITE_DESCRIPTION"], feeds.newest(),
                 _feed_kind())


@bp.get("/category/<slug>/feed.xml")
def category_feed(slug: str) -> Response:
    """RSS or Atom of the newest posts in a category and its sub-categories."""
    found = taxonomy.get_category(slug)
    link = current_app.config["SITE_URL"] + url_for("main.category", slug=slug)
    return _feed(f"{current_app.config['SITE_NAME']}: {found.name}", link, found.description or found.name,
                 feeds.newest(category=found), _feed_kind())


@bp.get("/tag/<slug>/feed.xml")
def tag_feed(slug: str) -> Response:
    """RSS or Atom of the newest posts with a tag."""
    found = taxonomy.get_tag(slug)
    link = current_app.config["SITE_URL"] + url_for("main.tag", slug=slug)
    return _feed(f"{current_app.config['SITE_NAME']}: #{found.name}", link, f"Posts tagged {found.name}",
                 feeds.newest(tag=found), _feed_kind())


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers and feed readers ask for /favicon.ico whatever the page says."""
    return redirect(url_for("static", filename="img/favicon.svg"), 301)


@bp.get("/uploads/<path:filename>")
def upload(filename: str) -> Response:
    """Uploaded files such as avatars (nginx serves this folder in production); 404 outside it."""
    max_age = media.cache_seconds(filename)
    response = send_from_directory(current_app.config["UPLOAD_FOLDER"], filename, max_age=max_age)
    if max_age:
        response.cache_control.immutable = True  # random names: these bytes never change
    return response


@bp.get("/healthz")
def healthz() -> Response:
    """Database, cache and queue reachability as JSON; 503 when any is down."""
    checks = health.check_all()
    ok = all(value == "ok" for value in checks.values())
    response = jsonify({"status": "ok" if ok else "degraded", "checks": checks})
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


# --- reach: Atom feeds, author feeds, sitemap, robots.txt, the archive index, the social image ----

bp.add_url_rule("/feed.atom", "atom_feed", feed)
bp.add_url_rule("/category/<slug>/feed.atom", "category_atom", category_feed)
bp.add_url_rule("/tag/<slug>/feed.atom", "tag_atom", tag_feed)


@bp.get("/user/<username>/feed.xml")
@bp.get("/user/<username>/feed.atom", endpoint="author_atom")
def author_feed(username: str) -> Response:
    """RSS or Atom of an author's newest posts."""
    found = accounts.get_public(username)
    link = current_app.config["SITE_URL"] + url_for("users.profile", username=username)
    return _feed(f"{current_app.config['SITE_NAME']}: {found.username}", link, f"Posts by {found.username}",
                 feeds.newest(author=found), _feed_kind())


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    """Every public page for crawlers (a sitemap index of numbered parts past 50,000 URLs)."""
    return feeds.conditional(sitemap_service.documents()["sitemap.xml"], "application/xml",
                             sitemap_service.last_modified(), max_age=3600)


@bp.get("/sitemap-<int:number>.xml")
def sitemap_part(number: int) -> Response:
    """One numbered part of a large sitemap; 404 past the last."""
    docs = sitemap_service.documents()
    text = docs.get(f"sitemap-{number}.xml")
    if text is None:
        abort(404)
    return feeds.conditional(text, "application/xml", sitemap_service.last_modified(), max_age=3600)


@bp.get("/robots.txt")
def robots() -> Response:
    """Where the sitemap is, and the private paths crawlers stay out of."""
    return feeds.conditional(sitemap_service.robots(), "text/plain", max_age=86400)


@bp.get("/archive")
def archive_index() -> Response:
    """Every year and month with published posts, with counts."""
    return render("main/archive.html", years=archive_service.years())


@bp.get("/site-image.png")
def site_image() -> Response:
    """The default social-card image, drawn from the site's name (for pages and posts without a cover)."""
    config = current_app.config
    return feeds.conditional(seo.draw_default_image(config["SITE_NAME"], config["SITE_DESCRIPTION"]), "image/png",
                             max_age=86400)
