"""Benchmark the reading pages on a seeded database: latency, bytes and SQL statements per page.

    .venv/bin/python scripts/bench_pages.py [--posts 10000] [--requests 200]

Uses a throw-away SQLite file (or DATABASE_URL when given) and the app's test client,
so it measures the application (queries, rendering), not the network.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--comments", type=int, default=30_000)
    parser.add_argument("--requests", type=int, default=200)
    options = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="blog-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'bench.db'}")
    os.environ.update(INSTANCE_PATH=str(tmp), LOG_LEVEL="WARNING", BLOG_ENV="development")

    from flask_migrate import upgrade
    from sqlalchemy import event

    from blog import create_app
    from blog.extensions import db
    from blog.services import demo

    app = create_app()
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        demo.seed(posts=options.posts, comments=options.comments, users=100)
        print(f"seeded {options.posts} posts, {options.comments} comments in {time.perf_counter() - started:.1f}s")

        client = app.test_client()
        home = client.get("/").text
        import re
        post = re.search(r'href="(/blog/[^"]+)"', home).group(1)
        category = re.search(r'href="(/category/[^"]+)"', home).group(1)
        tag = re.search(r'href="(/tag/[^"/]+)"', home).group(1)
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

        hx = {"HX-Request": "true"}
        print(f"{'page':<40}{'median ms':>10}{'p95 ms':>9}{'bytes':>9}{'queries':>9}")
        for label, url, headers in [
            ("/", "/", {}),
            ("/ (fragment)", "/", hx),
            ("/?page=500", "/?page=500", {}),
            ("/?page=500 (fragment)", "/?page=500", hx),
            (post, post, {}),
            (f"{post} (fragment)", post, hx),
            (tag, tag, {}),
            (f"{tag} (fragment)", tag, hx),
            (category, category, {}),
            (f"{category} (fragment)", category, hx),
            ("/feed.xml", "/feed.xml", {}),
        ]:
            client.get(url, headers=headers)  # warm caches
            timings = []
            for _ in range(options.requests):
                statements.clear()
                begin = time.perf_counter()
                response = client.get(url, headers=headers)
                timings.append((time.perf_counter() - begin) * 1000)
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(f"{label[-39:]:<40}{statistics.median(timings):>10.2f}{p95:>9.2f}"
                  f"{len(response.data):>9}{len(statements):>9}")


if __name__ == "__main__":
    main()
