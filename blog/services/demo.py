"""Deterministic demo content for `flask seed-db`: users of every role, a category tree,
tags, Markdown posts with code, and threaded comments.

Rows are written with bulk INSERTs in batches, so 10,000 posts take seconds, not minutes.
Bodies are drawn from a fixed number of variants, each rendered once by the real pipeline.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from slugify import slugify
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from blog.extensions import bcrypt
from blog.extensions import db
from blog.models import Category
from blog.models import Comment
from blog.models import Post
from blog.models import Tag
from blog.models import User
from blog.models import post_tags
from blog.models import utcnow
from blog.services import content
from blog.services import maintenance
from blog.services import seo
from blog.services.errors import Conflict

DEMO_ADMIN = {"username": "admin", "email": "admin@example.com", "password": "admin-demo-password"}
DEMO_PASSWORD = "demo-password"  # every other demo account
BODY_VARIANTS = 240
BATCH = 1000

CATEGORY_TREE = {
    "Programming": {"Python": {}, "JavaScript": {}, "Rust": {}},
    "Databases": {"PostgreSQL": {}, "SQLite": {}},
    "Web": {"Accessibility": {}, "Performance": {}, "Hypermedia": {}},
    "Operations": {"Deployment": {}, "Observability": {}},
    "Notes": {"Books": {}, "Travel": {}},
}
TAGS = [
    "python", "flask", "htmx", "sql", "postgres", "sqlite", "testing", "css", "html", "security",
    "performance", "devops", "rust", "javascript", "accessibility", "markdown", "caching", "linux",
    "git", "api", "design", "writing", "career", "tooling", "async", "http", "regex", "unicode",
    "search", "privacy",
]
FIRST = ["ada", "grace", "linus", "margaret", "ken", "barbara", "guido", "radia", "dennis", "frances",
         "alan", "edsger", "katherine", "donald", "hedy", "john", "sophie", "tim", "anita", "bjarne"]
SUBJECTS = [
    "connection pooling", "database indexes", "server-rendered HTML", "progressive enhancement",
    "full-text search", "background jobs", "rate limiting", "content security policy", "unit tests",
    "end-to-end tests", "Markdown pipelines", "cache invalidation", "structured logging", "Unicode slugs",
    "pagination", "migrations", "threaded comments", "image thumbnails", "RSS feeds", "dark mode",
    "keyboard navigation", "query plans", "zero-downtime deploys", "feature flags", "code review",
]
TITLE_PATTERNS = [
    "A practical guide to {s}", "What I learned about {s}", "{S} without the hype",
    "Ten lessons from a year of {s}", "Getting {s} right", "Why {s} matters more than you think",
    "{S}: a field guide", "Notes on {s}", "Debugging {s} in production", "The quiet power of {s}",
    "{S} in 15 minutes", "Rethinking {s}",
]
SENTENCES = [
    "Most of the time the simplest design is also the fastest one to change.",
    "We measured before we optimised, and the numbers surprised us.",
    "The database already knows how to do this well, so let it.",
    "A small amount of JavaScript goes a long way when the server does the heavy lifting.",
    "Every page should still work when scripts fail to load.",
    "The cost shows up later, usually at two in the morning.",
    "Write the test first and the interface tends to shape itself.",
    "Readers notice speed long before they notice features.",
    "Keeping the moving parts few makes the system easy to hold in your head.",
    "Logs are only useful when you can find the one line that matters.",
    "Indexes are a promise about which questions you will ask often.",
    "There is no substitute for reading the documentation end to end once.",
    "Defaults matter because most people never change them.",
    "If a rule exists twice, one copy will eventually be wrong.",
    "The best error message tells you what to do next.",
    "Boring technology lets you spend your novelty budget where it counts.",
    "Pagination is a feature, not an afterthought.",
    "Security is easier to build in than to bolt on.",
]
CODE_SAMPLES = [
    ("python", 'def paginate(items, page, per_page=10):\n    """Return one page of items."""\n'
               '    start = (page - 1) * per_page\n    return items[start:start + per_page]\n'),
    ("sql", "SELECT p.title, count(c.id) AS comments\nFROM posts p\n"
            "LEFT JOIN comments c ON c.post_id = p.id AND c.status = 'approved'\n"
            "GROUP BY p.id\nORDER BY comments DESC\nLIMIT 10;\n"),
    ("javascript", "document.addEventListener('htmx:afterSwap', (event) => {\n"
                   "  console.log('swapped', event.detail.target.id);\n});\n"),
    ("bash", "python -m venv .venv\n. .venv/bin/activate\npip install -r requirements.txt\n"),
    ("rust", "fn main() {\n    let words: Vec<&str> = \"hello wide world\".split(' ').collect();\n"
             "    println!(\"{} words\", words.len());\n}\n"),
    ("html", '<button hx-post="/like" hx-target="this" hx-swap="outerHTML">\n  Like\n</button>\n'),
]
SUMMARIES = [
    "What {s} looks like in a small, fast blog, and the numbers behind the choices.",
    "A hands-on look at {s}: what worked, what did not, and what we would do again.",
    "Everything we learned about {s} while keeping pages fast and the code small.",
    "A short, opinionated tour of {s} with examples you can copy.",
    "Why {s} deserves a second look, with measurements from production.",
]
COMMENTS = [
    "Great write-up, thanks! The section on trade-offs was exactly what I needed.",
    "I tried this on a side project and it halved the page load time.",
    "Do you have numbers for PostgreSQL as well? I'd love to compare.",
    "This matches my experience, although I would add a note about backups.",
    "Small typo in the second code block, otherwise spot on.",
    "How does this hold up with a few million rows?",
    "Bookmarked. Sending this to the whole team.",
    "I disagree a little: the *simple* approach breaks down once you add caching.",
    "Could you write a follow-up about testing this?",
    "Thanks, the `EXPLAIN` tip saved me an afternoon.",
]


@dataclass
class SeedReport:
    users: int
    categories: int
    tags: int
    posts: int
    comments: int


def is_empty() -> bool:
    """True when there are no users and no posts yet."""
    return not db.session.scalar(select(func.count()).select_from(User)) and not db.session.scalar(
        select(func.count()).select_from(Post))


def _paragraph(rng: random.Random) -> str:
    return " ".join(rng.sample(SENTENCES, rng.randint(3, 6)))


def _body(variant: int) -> str:
    rng = random.Random(variant)
    parts = [_paragraph(rng), _paragraph(rng)]
    for number in range(rng.randint(2, 3)):
        parts.append(f"## {rng.choice(['Background', 'The problem', 'What we tried', 'Results', 'Trade-offs', 'In practice'])} {number + 1}")
        parts.append(_paragraph(rng))
        roll = rng.random()
        if roll < 0.55:
            language, code = rng.choice(CODE_SAMPLES)
            parts.append(f"```{language}\n{code}```")
        elif roll < 0.75:
            parts.append("\n".join(f"- {s}" for s in rng.sample(SENTENCES, 3)))
        elif roll < 0.9:
            parts.append(f"> {rng.choice(SENTENCES)}")
        else:
            parts.append("| Approach | p95 (ms) | Notes |\n|---|---:|---|\n"
                         f"| naive | {rng.randint(80, 400)} | one query per row |\n"
                         f"| batched | {rng.randint(5, 40)} | one query per page |")
        parts.append(_paragraph(rng))
    parts.append(f"Further reading: [the documentation](https://docs.python.org/3/) and "
                 f"`{rng.choice(TAGS)}` notes.[^1]\n\n[^1]: Written for the demo content of this blog.")
    return "\n\n".join(parts)


class _Bodies:
    """Each body variant rendered once by the real Markdown pipeline."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[str, str, int]] = {}

    def get(self, variant: int) -> tuple[str, str, int]:
        if variant not in self._cache:
            body = _body(variant)
            self._cache[variant] = (body, content.render_markdown(body), content.reading_time(body))
        return self._cache[variant]


def _insert_returning_ids(model, rows: list[dict]) -> list[int]:
    if not rows:
        return []
    return list(db.session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows))


def seed(posts: int = 40, comments: int = 120, users: int = 12, *, seed: int = 2026,
         progress: Callable[[int], None] | None = None) -> SeedReport:
    """Fill an empty database with demo content; the same arguments give the same content.

    Raises:
        Conflict: the database already has users or posts.
    """
    if not is_empty():
        raise Conflict("The database already has content; seed an empty database.")
    advance = progress or (lambda n: None)
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)

    user_ids = _seed_users(max(users, 4))
    author_ids = user_ids[:max(3, len(user_ids) // 3)]  # admin, moderator and the authors write
    categories = _seed_categories()
    tag_ids = _seed_tags()

    bodies = _Bodies()
    spacing = max(2, min(220, 26_000 // max(posts, 1)))  # hours between posts: ~9 days for a small blog
    used_slugs: set[str] = set()
    post_ids: list[int] = []
    published_posts: list[tuple[int, object]] = []
    rows: list[dict] = []
    tag_rows: list[dict] = []
    pending_tags: list[list[int]] = []
    subjects: list[str] = []
    for index in range(posts):
        if not subjects:  # every subject once before any repeats, in a seeded order
            subjects = rng.sample(SUBJECTS, len(SUBJECTS))
        subject = subjects.pop()
        title = rng.choice(TITLE_PATTERNS).format(s=subject, S=subject[0].upper() + subject[1:])
        slug = base = slugify(title, max_length=200) or "post"
        suffix = 2
        while slug in used_slugs:
            slug, suffix = f"{base}-{suffix}", suffix + 1
        used_slugs.add(slug)
        body, html, minutes = bodies.get(rng.randrange(BODY_VARIANTS))
        summary = rng.choice(SUMMARIES).format(s=subject)
        roll = rng.random()
        status = ("draft" if roll < 0.04 else "pending" if roll < 0.05 else "scheduled" if roll < 0.07
                  else "archived" if roll < 0.09 else "published")
        # Newest first in index order: about a year of posts for a small seed, ~3 years for a big one.
        published_at = now - timedelta(hours=index * spacing + rng.randint(0, 4), minutes=rng.randint(0, 59))
        if status == "scheduled":
            published_at = now + timedelta(days=rng.randint(1, 30))
        elif status in ("draft", "pending"):
            published_at = None
        created = (published_at or now) - timedelta(hours=rng.randint(1, 72))
        rows.append({
            "title": title, "slug": slug, "body": body, "html": html, "word_count": seo.count_words(html),
            "summary": summary,
            "status": status, "reading_time": minutes, "views": rng.randint(0, 5000) if published_at else 0,
            "author_id": rng.choice(author_ids), "category_id": rng.choice(categories),
            "created_at": created, "updated_at": created, "published_at": published_at,
            "comments_enabled": True,
        })
        pending_tags.append(rng.sample(tag_ids, rng.randint(1, 4)))
        if len(rows) == BATCH or index == posts - 1:
            ids = _insert_returning_ids(Post, rows)
            for post_id, row, tags in zip(ids, rows, pending_tags):
                tag_rows.extend({"post_id": post_id, "tag_id": t} for t in tags)
                if row["status"] == "published":
                    published_posts.append((post_id, row["published_at"]))
            post_ids.extend(ids)
            db.session.execute(insert(post_tags), tag_rows)
            advance(len(rows))
            rows, tag_rows, pending_tags = [], [], []

    comment_total = _seed_comments(rng, comments, published_posts, user_ids, now, advance)
    db.session.commit()
    maintenance.analyze()  # a bulk load leaves SQLite's planner without statistics until the 6-hourly task
    return SeedReport(users=len(user_ids), categories=len(categories), tags=len(tag_ids),
                      posts=len(post_ids), comments=comment_total)


def _seed_users(count: int) -> list[int]:
    demo_hash = bcrypt.generate_password_hash(DEMO_PASSWORD).decode()  # hashed once, shared
    admin_hash = bcrypt.generate_password_hash(DEMO_ADMIN["password"]).decode()
    rows = [{"username": DEMO_ADMIN["username"], "email": DEMO_ADMIN["email"], "password_hash": admin_hash,
             "role": "admin", "email_confirmed": True, "bio": "Runs this blog.", "social_links": {}},
            {"username": "moderator", "email": "moderator@example.com", "password_hash": demo_hash,
             "role": "moderator", "email_confirmed": True, "bio": "Keeps the comments kind.", "social_links": {}}]
    authors = max(1, count // 3 - 1)
    for number in range(count - 2):
        name = FIRST[number % len(FIRST)] + ("" if number < len(FIRST) else str(number // len(FIRST)))
        role = "author" if number < authors else "reader"
        rows.append({"username": name, "email": f"{name}@example.com", "password_hash": demo_hash,
                     "role": role, "email_confirmed": True,
                     "bio": f"{name.capitalize()} writes about software." if role == "author" else "",
                     "social_links": {"website": f"https://{name}.example.com"} if role == "author" else {}})
    return _insert_returning_ids(User, rows)


def _seed_categories() -> list[int]:
    ids: list[int] = []

    def add(tree: dict, parent_id: int | None) -> None:
        for name, children in tree.items():
            category = Category(name=name, slug=slugify(name), parent_id=parent_id,
                                description=f"Posts about {name.lower()}.")
            db.session.add(category)
            db.session.flush()
            ids.append(category.id)
            add(children, category.id)

    add(CATEGORY_TREE, None)
    return ids


def _seed_tags() -> list[int]:
    return _insert_returning_ids(Tag, [{"name": name, "slug": slugify(name)} for name in TAGS])


def _seed_comments(rng: random.Random, total: int, published_posts: list, user_ids: list[int], now,
                   advance: Callable[[int], None]) -> int:
    """Comments in three waves (top level, replies, replies to replies) so parents get ids first."""
    if not published_posts or total <= 0:
        return 0
    targets = published_posts[: max(1, min(len(published_posts), total // 3 or 1))]
    waves = [total - 2 * (total // 4), total // 4, total // 4]
    parents: list[tuple[int, int, object]] = []  # (comment id, post id, created_at)
    html = {text: content.render_comment(text) for text in COMMENTS}
    written = 0
    for wave, count in enumerate(waves):
        rows = []
        for _ in range(count):
            if wave == 0 or not parents:
                post_id, published_at = rng.choice(targets)
                parent_id, after = None, published_at
            else:
                parent_id, post_id, after = rng.choice(parents)
            created = min(now, after + timedelta(minutes=rng.randint(5, 60 * 24 * 7)))
            status = "approved" if rng.random() < 0.85 else rng.choice(["pending", "pending", "spam", "rejected"])
            text = rng.choice(COMMENTS)
            rows.append({"body": text, "html": html[text], "status": status, "post_id": post_id,
                         "author_id": rng.choice(user_ids), "parent_id": parent_id, "created_at": created})
        new_parents = []
        for start in range(0, len(rows), BATCH):
            chunk = rows[start:start + BATCH]
            ids = _insert_returning_ids(Comment, chunk)
            new_parents.extend((cid, row["post_id"], row["created_at"])
                               for cid, row in zip(ids, chunk) if row["status"] == "approved")
            advance(len(chunk))
            written += len(chunk)
        parents = new_parents or parents
    return written
