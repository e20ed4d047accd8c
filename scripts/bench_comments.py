"""Benchmark a post page with a big comment thread: SQL statements and server time.

    .venv/bin/python scripts/bench_comments.py [--requests 20]

Seeds one post with 1, 100 and 1,000 approved comments (threaded three levels deep) in a
throw-away SQLite file and times GET /blog/<slug> through the app.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="blog-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'bench.db'}")
    os.environ.update(INSTANCE_PATH=str(tmp), LOG_LEVEL="WARNING", BLOG_ENV="development")

    from flask_migrate import upgrade
    from sqlalchemy import event

    from blog import create_app
    from blog.extensions import db
    from blog.models import Comment
    from blog.services import accounts
    from blog.services import posts
    from blog.services.content import render_comment

    app = create_app()
    with app.app_context():
        upgrade()
        author = accounts.create_user("author", "author@example.com", "a long password", role="author",
                                      email_confirmed=True)
        post = posts.save(posts.PostInput(title="A busy thread", body="Talk amongst yourselves.",
                                          status="published"), by=author)
        client = app.test_client()
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        total = 0
        print(f"{'comments':>9}{'queries':>9}{'median ms':>11}{'p95 ms':>9}{'bytes':>10}")
        for target in (1, 100, 1000):
            rows = [{"post_id": post.id, "author_id": author.id, "body": f"Comment number {n}",
                     "html": render_comment(f"Comment number {n}"), "status": "approved",
                     "parent_id": None if n < 10 or n % 3 == 0 else n // 2 + 1} for n in range(total, target)]
            db.session.execute(Comment.__table__.insert(), rows)
            db.session.commit()
            total = target
            url = f"/blog/{post.slug}"
            client.get(url)
            timings = []
            for _ in range(options.requests):
                statements.clear()
                started = time.perf_counter()
                response = client.get(url, headers={"User-Agent": "Mozilla/5.0 (bench) Firefox/128.0"})
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
            print(f"{target:>9}{len(statements):>9}{statistics.median(timings):>11.1f}{p95:>9.1f}"
                  f"{len(response.data):>10}")


if __name__ == "__main__":
    main()
