"""Benchmark the reading pages on a seeded database: latency, bytes and SQL statements per page.

    .venv/bin/python scripts/bench_pages.py [--posts 10000] [--requests 200]

Uses a throw-away SQLite file (or DATABASE_URL when given) and the app's test client,
so it measures the application (queries, rendering), not the network.
"""
from __future__ import annotations

import argparse
import re
import time

from benchkit import bench_app
from benchkit import time_get


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--comments", type=int, default=30_000)
    parser.add_argument("--requests", type=int, default=200)
    options = parser.parse_args()
    app = bench_app()

    from blog.services import demo

    with app.app_context():
        started = time.perf_counter()
        demo.seed(posts=options.posts, comments=options.comments, users=100)
        print(f"seeded {options.posts} posts, {options.comments} comments in {time.perf_counter() - started:.1f}s")

        client = app.test_client()
        home = client.get("/").text
        post = re.search(r'href="(/blog/[^"]+)"', home).group(1)
        category = re.search(r'href="(/category/[^"]+)"', home).group(1)
        tag = re.search(r'href="(/tag/[^"/]+)"', home).group(1)
        hx = {"HX-Request": "true"}
        print(f"{'page':<40}{'median ms':>10}{'p95 ms':>9}{'bytes':>9}{'queries':>9}")
        for label, url, headers in [
            ("/", "/", {}), ("/ (fragment)", "/", hx),
            ("/?page=500", "/?page=500", {}), ("/?page=500 (fragment)", "/?page=500", hx),
            (post, post, {}), (f"{post} (fragment)", post, hx),
            (tag, tag, {}), (f"{tag} (fragment)", tag, hx),
            (category, category, {}), (f"{category} (fragment)", category, hx),
            ("/feed.xml", "/feed.xml", {}),
        ]:
            result = time_get(client, url, options.requests, headers)
            print(f"{label[-39:]:<40}{result.median_ms:>10.2f}{result.p95_ms:>9.2f}{result.bytes:>9}{result.queries:>9}")


if __name__ == "__main__":
    main()
