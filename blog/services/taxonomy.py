"""Categories (a tree), tags and the archive of months, with published-post counts.

The widgets are cached briefly as plain tuples (safe to pickle into Redis); each
costs one grouped query when the cache is cold.
"""
from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field

from slugify import slugify
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from blog.extensions import db
from blog.models import Category
from blog.models import Post
from blog.models import Tag
from blog.models import post_tags
from blog.services.errors import Conflict
from blog.services.errors import Invalid
from blog.services.errors import NotFound
from blog.services import archive
from blog.services import pagecache

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


@pagecache.memoize(pagecache.LISTINGS, pagecache.TAXONOMY, timeout=WIDGET_TIMEOUT)
def category_tree() -> list[CategoryNode]:
    """Every category as a tree with rolled-up counts of published posts (two queries)."""
    counts = dict(db.session.execute(
        select(Post.category_id, func.count()).where(Post.status == "published", Post.kind == "post").group_by(Post.category_id)
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


def published_tag():
    """A WHERE clause: the tag is on at least one published post (a tag only drafts carry is private)."""
    return (select(post_tags.c.tag_id).join(Post, Post.id == post_tags.c.post_id)
            .where(post_tags.c.tag_id == Tag.id, Post.status == "published").exists())


def get_tag(slug: str) -> Tag:
    """The tag at ``slug``, when a published post carries it. Raises NotFound.

    A tag used only by drafts, pending or scheduled posts has no page or feed: its name alone
    could tell what an author is preparing.
    """
    tag = db.session.scalar(select(Tag).where(Tag.slug == slug, published_tag()))
    if tag is None:
        raise NotFound("There is no such tag.")
    return tag


@pagecache.memoize(pagecache.LISTINGS, pagecache.TAXONOMY, timeout=WIDGET_TIMEOUT)
def tag_cloud(limit: int = 40) -> list[TagCount]:
    """The most used tags on published posts, alphabetical, each with a size from 1 to 5."""
    rows = db.session.execute(
        select(Tag.name, Tag.slug, func.count().label("n"))
        .join(post_tags, post_tags.c.tag_id == Tag.id)
        .join(Post, Post.id == post_tags.c.post_id)
        .where(Post.status == "published", Post.kind == "post")
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


@pagecache.memoize(pagecache.LISTINGS, pagecache.TAXONOMY, timeout=WIDGET_TIMEOUT)
def archive_months(limit: int = 12) -> list[Month]:
    """The latest months that have published posts, newest first, with counts (the site's months)."""
    return [Month(y, m, n) for y, m, n in archive.month_counts()[:limit]]


def clear_widgets() -> None:
    """Forget every cached sidebar widget (after publishing, editing, deleting or moderating)."""
    # Through the shared generations: every process and host sees the change at once.
    pagecache.invalidate(pagecache.LISTINGS, pagecache.TAXONOMY)


# --- managing the tree (admins) ------------------------------------------------------------

MAX_CATEGORY_NAME = 80
MAX_CATEGORY_DESCRIPTION = 500
_SLUG_LENGTH = 90  # of the 100 the column holds: room left for a "-NN" suffix


@dataclass
class CategoryStats:
    """A category on the admin page: where it sits, and the posts filed directly under it."""

    id: int
    name: str
    slug: str
    parent_id: int | None
    description: str
    label: str  # the path, "Programming › Python"
    depth: int
    published: int = 0
    total: int = 0  # any status
    children: list[CategoryStats] = field(default_factory=list)

    def subtree_ids(self) -> set[int]:
        """This category's id and those of all its descendants."""
        return {self.id}.union(*(child.subtree_ids() for child in self.children))


def get_category_by_id(category_id: int) -> Category:
    """The category with ``category_id``. Raises NotFound."""
    category = db.session.get(Category, category_id) if _possible_id(category_id) else None
    if category is None:
        raise NotFound("There is no such category.")
    return category


def category_overview() -> list[CategoryStats]:
    """The whole tree, fresh from the database (not the cached widget), with post counts per category.

    Two queries: the categories, and the posts grouped by category.
    """
    published = func.count().filter(Post.status == "published")
    counts = {row.category_id: (row.published, row.total) for row in db.session.execute(
        select(Post.category_id, published.label("published"), func.count().label("total"))
        .where(Post.category_id.is_not(None))
        .group_by(Post.category_id)
    )}
    roots = _load_tree()
    for node in iter_tree(roots):
        node.published, node.total = counts.get(node.id, (0, 0))
    return roots


def category_choices(exclude: int | None = None) -> list[tuple[int, str]]:
    """Every category as ``(id, "Programming › Python")`` in tree order, for select fields.

    ``exclude``: leave out that category and its descendants (the places it cannot move to).
    """
    roots = _load_tree()
    return [(node.id, node.label) for node in iter_tree(roots, skip=exclude)]


def iter_tree(nodes: list[CategoryStats], skip: int | None = None) -> Iterator[CategoryStats]:
    """Every node depth-first (tree order), leaving out ``skip`` and what is under it."""
    for node in nodes:
        if node.id != skip:
            yield node
            yield from iter_tree(node.children, skip)


def create_category(name: str, parent_id: int | None = None, description: str = "") -> Category:
    """Add a category (a root, or under ``parent_id``) with a unique slug made from its name.

    Raises:
        Invalid: the name is empty or too long, the description too long, or the parent does not exist.
        Conflict: the slug kept clashing with categories added at the same moment.
    """
    name, description = _check_fields(name, description)
    for _attempt in range(3):
        try:
            with _changing_tree():
                _check_parent(parent_id)
                category = Category(name=name, slug=_free_slug(name), parent_id=parent_id,
                                    description=description)
                db.session.add(category)
                db.session.commit()
        except IntegrityError:
            # Something outside these functions took the slug between our check and our insert.
            continue
        clear_widgets()
        return category
    raise Conflict("Another category was saved with the same name at the same moment. Please try again.")


def update_category(category: Category, *, name: str, parent_id: int | None, description: str) -> Category:
    """Rename, re-describe or move ``category``; its slug stays, so links to it keep working.

    Raises:
        Invalid: a field breaks a rule, the parent does not exist, or it is the category itself or one
            of its descendants (``fields`` says which). Nothing is changed then.
        Conflict: the parent was deleted while this was being saved.
    """
    name, description = _check_fields(name, description)
    with _changing_tree():
        if parent_id is not None:
            _check_parent(parent_id)
            if parent_id in db.session.scalars(subtree_ids(category)).all():
                raise Invalid("A category cannot move under itself.", {"parent_id": [
                    "A category cannot move under itself or one of its own sub-categories."]})
        category.name, category.parent_id, category.description = name, parent_id, description
        try:
            db.session.commit()
        except IntegrityError:
            raise Conflict("The new parent category was deleted meanwhile. Please choose another.") from None
    clear_widgets()
    return category


def delete_category(category: Category) -> None:
    """Delete ``category``, which must have no sub-categories and no posts of any status.

    Raises:
        Invalid: it still holds something (the message says what).
    """
    with _changing_tree():
        # On PostgreSQL the row lock also makes a post being filed here at this moment wait, then fail
        # on its foreign key, instead of silently losing its category (ON DELETE SET NULL).
        db.session.execute(select(Category.id).where(Category.id == category.id).with_for_update())
        n_children = db.session.scalar(select(func.count()).where(Category.parent_id == category.id))
        n_posts = db.session.scalar(select(func.count()).where(Post.category_id == category.id))
        if n_children or n_posts:
            contents = [_plural(n_children, "sub-category", "sub-categories"), _plural(n_posts, "post", "posts")]
            what = " and ".join(part for part in contents if part)
            raise Invalid(f"“{category.name}” still has {what}: move or delete them first.")
        db.session.delete(category)
        db.session.commit()
    clear_widgets()


def _check_fields(name: str, description: str) -> tuple[str, str]:
    """The name and description trimmed. Raises Invalid."""
    name, description = (name or "").strip(), (description or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the category a name."]
    elif len(name) > MAX_CATEGORY_NAME:
        errors["name"] = [f"Keep the name within {MAX_CATEGORY_NAME} characters (it has {len(name)})."]
    if len(description) > MAX_CATEGORY_DESCRIPTION:
        errors["description"] = [f"Keep the description within {MAX_CATEGORY_DESCRIPTION} characters."]
    if errors:
        raise Invalid("The category is not valid.", errors)
    return name, description


def _check_parent(parent_id: int | None) -> None:
    if parent_id is not None and (not _possible_id(parent_id) or db.session.get(Category, parent_id) is None):
        raise Invalid("The parent category does not exist.",
                      {"parent_id": ["That parent category does not exist (any more)."]})


def _possible_id(value: int) -> bool:
    """False for ids no row can have (SQLite raises OverflowError past 64 bits, rather than finding nothing)."""
    return 0 < value < 2**63


def _free_slug(name: str) -> str:
    """A slug for ``name`` no category has yet: ``python``, else ``python-2``, ``python-3`` ..."""
    base = slugify(name, max_length=_SLUG_LENGTH) or "category"
    taken = set(db.session.scalars(
        select(Category.slug).where((Category.slug == base) | Category.slug.startswith(f"{base}-", autoescape=True))
    ))
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug


@contextmanager
def _changing_tree() -> Iterator[None]:
    """Hold the tree's write lock for the block, so each check (no cycle, nothing inside) still holds
    at commit; roll back (and let go) if the block raises.

    Two admins moving A under B and B under A at once would otherwise both pass the check and make a
    cycle, on which the recursive queries never end. Readers and post writes are not blocked.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("LOCK TABLE categories IN SHARE ROW EXCLUSIVE MODE"))
    else:
        # SQLite: a write statement, even one touching no row, opens the transaction and takes the
        # database's write lock; other writers wait (busy_timeout) until we commit.
        table = Category.__table__
        db.session.execute(update(table).where(false()).values(name=table.c.name))
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise


def _load_tree() -> list[CategoryStats]:
    """Every category, nested (one query)."""
    return _tree(db.session.execute(
        select(Category.id, Category.name, Category.slug, Category.parent_id, Category.description)
    ).all())


def _tree(rows: Iterable) -> list[CategoryStats]:
    """Nest ``(id, name, slug, parent_id, description)`` rows; siblings by name, labels as paths."""
    nodes = {row.id: CategoryStats(row.id, row.name, row.slug, row.parent_id, row.description or "", "", 0)
             for row in rows}
    roots: list[CategoryStats] = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id) if node.parent_id else None
        (parent.children if parent else roots).append(node)

    def place(siblings: list[CategoryStats], trail: str, depth: int) -> None:
        siblings.sort(key=lambda node: (node.name.casefold(), node.id))
        for node in siblings:
            node.label, node.depth = trail + node.name, depth
            place(node.children, node.label + " › ", depth + 1)

    place(roots, "", 0)
    return roots


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}" if count else ""
