"""Benchmark a post page with a big comment thread: SQL statements and server time.

    .venv/bin/python scripts/bench_comments.py [--requests 20]

Seeds one post with 1, 100 and 1,000 approved comments (threaded three levels deep) in a
throw-away SQLite file (or DATABASE_URL) and times GET /blog/<slug> through the app.
"""
from __future__ import annotations

import argparse

from benchkit import bench_app
from benchkit import time_get


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    options = parser.parse_args()
    app = bench_app()

    from blog.extensions import db
    from blog.models import Comment
    from blog.services import accounts
    from blog.services import posts
    from blog.services.content import render_comment

    with app.app_context():
        author = accounts.create_user("author", "author@example.com", "a long password", role="author",
                                      email_confirmed=True)
        post = posts.save(posts.PostInput(title="A busy thread", body="Talk amongst yourselves.",
                                          status="published"), by=author)
        client = app.test_client()
        total = 0
        print(f"{'comments':>9}{'queries':>9}{'median ms':>11}{'p95 ms':>9}{'bytes':>10}")
        for target in (1, 100, 1000):
            rows = [{"post_id": post.id, "author_id": author.id, "body": f"Comment number {n}",
                     "html": render_comment(f"Comment number {n}"), "status": "approved",
                     "parent_id": None if n < 10 or n % 3 == 0 else n // 2 + 1} for n in range(total, target)]
            db.session.execute(Comment.__table__.insert(), rows)
            db.session.commit()
            total = target
            result = time_get(client, f"/blog/{post.slug}", options.requests,
                              {"User-Agent": "Mozilla/5.0 (bench) Firefox/128.0"})
            print(f"{target:>9}{result.queries:>9}{result.median_ms:>11.1f}{result.p95_ms:>9.1f}{result.bytes:>10}")


if __name__ == "__main__":
    main()
