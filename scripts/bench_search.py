"""Benchmark full-text search: 10,000 published posts of ~600 words, 20 realistic queries.

    .venv/bin/python scripts/bench_search.py [--posts 10000] [--words 600] [--repeat 30]
                                             [--postgres postgresql+psycopg://postgres@127.0.0.1/bench]

Always runs on a throw-away SQLite file (FTS5); with --postgres (or BENCH_POSTGRES_URL) also on
that PostgreSQL database, which it EMPTIES first: give it a scratch database. Each back end runs
in a child process (the configuration reads DATABASE_URL at import).

The text is synthetic but shaped like a blog's: a Zipf-distributed vocabulary of common English
words with a long tail of rarer ones, plus two topics per post whose words make up about a
tenth of it, so queries match anything from a handful of posts to a few thousand. Reported per
query: the posts matched, then median and p95 of ``fulltext.search()`` (one page of ranked,
highlighted results with authors, categories and tags: what the view and the API call), and of
the whole ``/search`` htmx fragment through the test client (rendering included).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: Twenty searches a reader of a web-development blog might make (one with a filter, one half-typed).
QUERIES: list[tuple[str, dict]] = [
    ("postgres vacuum", {}), ('"connection pool"', {}), ("htmx", {}), ("python testing", {}),
    ("cache invalidation", {}), ("rust OR golang", {}), ("deploy -kubernetes", {}), ("async*", {}),
    ("performance tuning", {}), ("security headers", {}), ('"query plan"', {}), ("migrations", {}),
    ("accessibility keyboard", {}), ("search ranking", {}), ('"background jobs"', {}), ("logging", {}),
    ("paginat", {}), ("css grid", {}), ("unicode normalization", {}), ("index", {"tag": "postgres"}),
]

TOPICS = {
    "postgres": "postgres postgresql vacuum index query_plan planner btree gin wal replication connection_pool "
                "pgbouncer transaction isolation lock explain analyze partition autovacuum",
    "sqlite": "sqlite wal journal pragma fts5 virtual table page cache checkpoint embedded file lock",
    "python": "python testing pytest fixture generator decorator typing asyncio wheel virtualenv import module",
    "testing": "testing test pytest fixture mock coverage assertion flaky integration unit browser playwright",
    "htmx": "htmx hypermedia swap fragment trigger attribute server rendered progressive enhancement partial",
    "caching": "cache caching invalidation redis memoize ttl stale eviction warm cold hit miss key",
    "rust": "rust borrow lifetime cargo crate trait ownership compiler unsafe tokio",
    "golang": "golang goroutine channel interface module compiler gopher context",
    "deploy": "deploy deployment kubernetes docker container rollout rollback nginx gunicorn systemd release",
    "performance": "performance tuning latency throughput profile benchmark percentile optimisation slow fast",
    "security": "security headers csp csrf xss injection escaping password bcrypt token session cookie",
    "accessibility": "accessibility keyboard screen reader focus contrast aria label landmark navigation",
    "search": "search ranking relevance stemming tokenizer snippet highlight index query phrase prefix",
    "jobs": "background_jobs queue worker huey retry schedule periodic task consumer",
    "logging": "logging logs structured observability tracing metrics alert request id",
    "migrations": "migrations migration alembic schema column upgrade downgrade batch constraint",
    "css": "css grid flexbox layout stylesheet cascade selector responsive dark mode",
    "unicode": "unicode normalization utf encoding diacritics slug codepoint grapheme",
    "pagination": "pagination paginate keyset offset cursor page next previous",
    "api": "api json endpoint rest token pagination status error openapi versioning",
}
COMMON = """the of and to a in is it you that he was for on are with as his they be at one have this from or
had by hot word but what some we can out other were all there when up use your how said an each she which do
their time if will way about many then them write would like so these her long make thing see him two has look
more day could go come did number sound no most people my over know water than call first who may down side been
now find any new work part take get place made live where after back little only round man year came show every
good me give our under name very through just form sentence great think say help low line differ turn cause much
mean before move right boy old too same tell does set three want air well also play small end put home read hand
port large spell add even land here must big high such follow act why ask men change went light kind off need
house picture try us again animal point mother world near build self earth father head stand own page should
country found answer school grow study still learn plant cover food sun four between state keep eye never last
let thought city tree cross farm hard start might story saw far sea draw left late run while press close night
real life few north open seem together next white children begin got walk example ease paper group always music
those both mark often letter until mile river car feet care second book carry took science eat room friend began
idea fish mountain stop once base hear horse cut sure watch colour face wood main enough plain girl usual young
ready above ever red list though feel talk bird soon body dog family direct pose leave song measure door product
black short numeral class wind question happen complete ship area half rock order fire south problem piece told
knew pass since top whole king space heard best hour better true during hundred five remember step early hold
west ground interest reach fast verb sing listen six table travel less morning ten simple several vowel toward
war lay against pattern slow centre love person money serve appear road map rain rule govern pull cold notice
voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest
correct able pound done beauty drive stood contain front teach week final gave green oh quick develop ocean warm
free minute strong special mind behind clear tail produce fact street inch multiply nothing course stay wheel full
force blue object decide surface deep moon island foot system busy test record boat common gold possible plane
stead dry wonder laugh thousand ago ran check game shape equate miss brought heat snow tire bring yes distant fill
east paint language among""".split()
SYLLABLES = "ka lo mi ne ra to su vi pe do ba ri fu ge ha ji ko lu ma no pi re sa te vo wa ze bi cu da".split()


def _vocabulary(rng: random.Random) -> list[str]:
    """Common words first (most frequent), then a long tail of made-up rarer words."""
    tail = {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(6000)}
    return COMMON + sorted(tail - set(COMMON))


def _zipf(words: list[str]) -> list[float]:
    weights = [1 / (rank + 1) for rank in range(len(words))]
    total, running, cumulative = sum(weights), 0.0, []
    for weight in weights:
        running += weight / total
        cumulative.append(running)
    return cumulative


def _sentences(rng: random.Random, words: list[str]) -> str:
    out, start = [], 0
    while start < len(words):
        size = rng.randint(8, 20)
        sentence = " ".join(words[start:start + size])
        out.append(sentence[:1].upper() + sentence[1:] + ".")
        start += size
    return " ".join(out)


def seed(posts: int, words: int, seed_value: int = 7) -> None:
    """Insert ``posts`` published posts (bulk, past the signals) with authors, categories and tags."""
    from datetime import timedelta

    from sqlalchemy import insert

    from blog.extensions import db
    from blog.models import Category
    from blog.models import Post
    from blog.models import Tag
    from blog.models import User
    from blog.models import post_tags
    from blog.models import utcnow

    rng = random.Random(seed_value)
    vocabulary = _vocabulary(rng)
    cumulative = _zipf(vocabulary)
    # "query_plan": a phrase, written as its two words side by side.
    topic_words = {name: [w.replace("_", " ") for w in words_.split()] for name, words_ in TOPICS.items()}
    authors = list(db.session.scalars(insert(User).returning(User.id), [
        {"username": f"writer{n}", "email": f"writer{n}@example.com", "password_hash": "x", "role": "author",
         "email_confirmed": True, "bio": "", "social_links": {}} for n in range(20)]))
    categories = list(db.session.scalars(insert(Category).returning(Category.id), [
        {"name": name.title(), "slug": f"cat-{name}", "description": ""} for name in ("code", "data", "web", "ops")]))
    tags = dict(zip(TOPICS, db.session.scalars(insert(Tag).returning(Tag.id, sort_by_parameter_order=True),
                                                [{"name": name, "slug": name} for name in TOPICS])))
    now = utcnow()
    batch, links = [], []
    for n in range(posts):
        primary, secondary = rng.sample(list(TOPICS), 2)
        chosen = rng.choices(vocabulary, cum_weights=cumulative, k=words)
        for i in range(0, words, 9):  # about one word in nine from the post's topics
            topic = primary if rng.random() < 0.7 else secondary
            chosen[i] = rng.choice(topic_words[topic])
        chosen = " ".join(chosen).split()  # phrases become their words
        paragraphs = [_sentences(rng, chosen[i:i + 100]) for i in range(0, len(chosen), 100)]
        title_words = rng.sample(topic_words[primary], 2)
        title = f"{rng.choice(['Notes on', 'Getting', 'Rethinking', 'A guide to', 'Lessons in'])} " \
                f"{title_words[0]} and {title_words[1]} ({n})"
        batch.append({
            "title": title, "slug": f"post-{n}", "body": "\n\n".join(paragraphs),
            "html": "".join(f"<p>{p}</p>\n" for p in paragraphs), "summary": _sentences(rng, chosen[:18]),
            "status": "published", "reading_time": 3, "views": 0, "author_id": rng.choice(authors),
            "category_id": rng.choice(categories), "created_at": now, "updated_at": now,
            "published_at": now.replace(microsecond=0) - timedelta(hours=n),
            "comments_enabled": True,
        })
        links.append((primary, secondary))
        if len(batch) == 1000 or n == posts - 1:
            ids = db.session.scalars(insert(Post).returning(Post.id, sort_by_parameter_order=True), batch)
            db.session.execute(insert(post_tags), [{"post_id": post_id, "tag_id": tags[name]}
                                                   for post_id, pair in zip(ids, links) for name in pair])
            batch, links = [], []
    db.session.commit()


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(len(ordered) * 0.95) - 1)]


def run_one(url: str, options: argparse.Namespace) -> None:
    """Seed, index and measure on the database at ``url`` (this process only)."""
    tmp = Path(tempfile.mkdtemp(prefix="blog-bench-search-"))
    os.environ.update(DATABASE_URL=url, INSTANCE_PATH=str(tmp), LOG_LEVEL="WARNING", BLOG_ENV="development",
                      REDIS_URL="")
    from flask_migrate import upgrade
    from sqlalchemy import text

    from blog import create_app
    from blog.extensions import db
    from blog.services import fulltext

    app = create_app()
    with app.app_context():
        dialect = db.engine.dialect.name
        if dialect != "sqlite":  # a scratch database: start from nothing
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()
        started = time.perf_counter()
        seed(options.posts, options.words)
        seeded = time.perf_counter() - started
        started = time.perf_counter()
        indexed = fulltext.reindex()
        took = time.perf_counter() - started
        if dialect == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        version = db.session.scalar(text("SELECT sqlite_version()" if dialect == "sqlite" else "SHOW server_version"))
        print(f"\n== {dialect} {version}: {options.posts:,} posts x {options.words} words seeded in {seeded:.1f}s, "
              f"{indexed:,} indexed in {took:.1f}s")
        client = app.test_client()
        hx = {"HX-Request": "true"}
        print(f"{'query':<30}{'matches':>8}{'search median':>15}{'p95 ms':>8}{'/search median':>16}{'p95 ms':>8}")
        every: list[float] = []
        worst = 0.0
        for q, filters in QUERIES:
            fulltext.search(q, **filters)  # warm the statement cache, the pages and the templates
            client.get("/search", query_string={"q": q, **filters}, headers=hx)
            service, page = [], []
            for _ in range(options.repeat):
                db.session.remove()
                started = time.perf_counter()
                result = fulltext.search(q, **filters)
                service.append((time.perf_counter() - started) * 1000)
            for _ in range(max(5, options.repeat // 3)):
                started = time.perf_counter()
                response = client.get("/search", query_string={"q": q, **filters}, headers=hx)
                page.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            (median, p95), (page_median, page_p95) = _stats(service), _stats(page)
            every += service
            worst = max(worst, p95)
            label = q + "".join(f" [{k}={v}]" for k, v in filters.items())
            print(f"{label:<30}{result.total:>8}{median:>15.2f}{p95:>8.2f}{page_median:>16.2f}{page_p95:>8.2f}")
        median, p95 = _stats(every)
        print(f"{'all queries':<30}{'':>8}{median:>15.2f}{p95:>8.2f}   (worst per-query p95 {worst:.2f} ms; "
              f"target p95 < 30 ms: {'met' if worst < 30 else 'MISSED'})")
        db.session.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--words", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each query")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"),
                        help="a scratch PostgreSQL database (emptied!) to measure as well")
    parser.add_argument("--only", help=argparse.SUPPRESS)  # the child process: one database URL
    options = parser.parse_args()
    if options.only:
        run_one(options.only, options)
        return
    urls = [f"sqlite:///{Path(tempfile.mkdtemp(prefix='blog-bench-search-')) / 'bench.db'}"]
    if options.postgres:
        urls.append(options.postgres)
    for url in urls:
        subprocess.run([sys.executable, __file__, "--only", url, "--posts", str(options.posts),
                        "--words", str(options.words), "--repeat", str(options.repeat)], check=True)


if __name__ == "__main__":
    main()
