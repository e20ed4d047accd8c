"""Categories (a tree), tags and the archive of months, with published-post counts.

The widgets are cached briefly as plain tuples (safe to pickle into Redis); each
costs one grouped query when the cache is cold.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import cache
from blog.extensions import db
from blog.models import Category
from blog.models import Post
from blog.models import Tag
from blog.models import post_tags
from blog.services.errors import NotFound

WIDGET_TIMEOUT = 60  # seconds; short, until publishing invalidates these explicitly


@dataclass
class CategoryNode:
    id: int
    name: str
    slug: str
    parent_id: int | None
    description: str = ""
    count: int = 0  # published posts here and in every sub-category
    children: list[CategoryNode] = field(default_factory=list)


@dataclass(frozen=True)
class TagCount:
    name: str
    slug: str
    count: int
    size: int  # 1 (rare) to 5 (frequent), for the cloud


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    count: int


@cache.memoize(timeout=WIDGET_TIMEOUT)
def category_tree() -> list[CategoryNode]:
    """Every category as a tree with rolled-up counts of published posts (two queries)."""
    counts = dict(db.session.execute(
        select(Post.category_id, func.count()).where(Post.status == "published").group_by(Post.category_id)
    ).all())
    nodes = {c.id: CategoryNode(c.id, c.name, c.slug, c.parent_id, c.description, counts.get(c.id, 0))
             for c in db.session.scalars(select(Category).order_by(Category.name))}
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id) if node.parent_id else None
        (parent.children if parent else roots).append(node)

    def roll_up(node: CategoryNode) -> int:
        node.count += sum(roll_up(child) for child in node.children)
        return node.count

    for root in roots:
        roll_up(root)
    return roots


def get_category(slug: str) -> Category:
    """The category at ``slug``. Raises NotFound."""
    category = db.session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        raise NotFound("There is no such category.")
    return category


def subtree_ids(category: Category):
    """A SELECT of the ids of ``category`` and all its descendants (recursive CTE, SQLite and PostgreSQL)."""
    tree = select(Category.id).where(Category.id == category.id).cte("subtree", recursive=True)
    tree = tree.union_all(select(Category.id).where(Category.parent_id == tree.c.id))
    return select(tree.c.id)


def breadcrumbs(category: Category) -> list[CategoryNode]:
    """The path from the root down to ``category``, from the cached tree."""
    def walk(nodes: list[CategoryNode], trail: list[CategoryNode]) -> list[CategoryNode] | None:
        for node in nodes:
            path = trail + [node]
            if node.id == category.id:
                return path
            found = walk(node.children, path)
            if found:
                return found
        return None

    return walk(category_tree(), []) or []


def get_tag(slug: str) -> Tag:
    """The tag at ``slug``. Raises NotFound."""
    tag = db.session.scalar(select(Tag).where(Tag.slug == slug))
    if tag is None:
        raise NotFound("There is no such tag.")
    return tag


@cache.memoize(timeout=WIDGET_TIMEOUT)
def tag_cloud(limit: int = 40) -> list[TagCount]:
    """The most used tags on published posts, alphabetical, each with a size from 1 to 5."""
    rows = db.session.execute(
        select(Tag.name, Tag.slug, func.count().label("n"))
        .join(post_tags, post_tags.c.tag_id == Tag.id)
        .join(Post, Post.id == post_tags.c.post_id)
        .where(Post.status == "published")
        .group_by(Tag.id, Tag.name, Tag.slug)
        .order_by(func.count().desc(), Tag.name)
        .limit(limit)
    ).all()
    if not rows:
        return []
    low, high = min(r.n for r in rows), max(r.n for r in rows)
    spread = max(high - low, 1)
    return sorted((TagCount(r.name, r.slug, r.n, 1 + round(4 * (r.n - low) / spread)) for r in rows),
                  key=lambda t: t.name)


@cache.memoize(timeout=WIDGET_TIMEOUT)
def archive_months(limit: int = 12) -> list[Month]:
    """The latest months that have published posts, newest first, with counts."""
    year = func.extract("year", Post.published_at)
    month = func.extract("month", Post.published_at)
    rows = db.session.execute(
        select(year.label("y"), month.label("m"), func.count())
        .where(Post.status == "published")
        .group_by(year, month)
        .order_by(year.desc(), month.desc())
        .limit(limit)
    ).all()
    return [Month(int(y), int(m), n) for y, m, n in rows]


def clear_widgets() -> None:
    """Forget every cached sidebar widget (after publishing, editing, deleting or moderating)."""
    from blog.services import accounts
    from blog.services import comments
    from blog.services import posts

    for fn in (category_tree, tag_cloud, archive_months, posts.popular, accounts.authors, comments.recent):
        cache.delete_memoized(fn)
