"""Benchmark the admin lists: SQL statements and server time at 10,000 posts / 100,000 comments / 10,000 users.

    .venv/bin/python scripts/bench_admin.py [--posts N --comments M --users K --requests R]

Seeds demo content (plus 20,000 history lines and 30 days of per-day reads for 1,000 posts) in a
throw-away SQLite file (or DATABASE_URL), signs in as the demo admin and times each admin list
and the matching API lists through the app, then one bulk request with 1,000 comment ids.
"""
from __future__ import annotations

import argparse
import random
import time
from datetime import timedelta

from benchkit import bench_app
from benchkit import time_get

URLS = [
    "/admin/",
    "/admin/posts",
    "/admin/posts?status=published",
    "/admin/posts?status=published&page=300",
    "/admin/posts?status=published&q=python",
    "/admin/posts?status=published&author=ada",
    "/admin/comments",
    "/admin/comments?status=approved&page=2000",
    "/admin/users",
    "/admin/users?q=ada",
    "/admin/users?role=reader&page=300",
    "/admin/activity",
    "/admin/activity?kind=comment&page=100",
    "/api/v1/users?per_page=25",
    "/api/v1/comments?status=pending&per_page=25",
    "/api/v1/posts?status=published&per_page=25",
    "/api/v1/posts?status=pending&per_page=25",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=10)
    options = parser.parse_args()
    app = bench_app()

    from sqlalchemy import select

    from blog.extensions import db
    from blog.models import Activity
    from blog.models import Comment
    from blog.models import Post
    from blog.models import PostViewDay
    from blog.models import User
    from blog.models import utcnow
    from blog.services import demo
    from blog.services import tokens

    with app.app_context():
        started = time.perf_counter()
        demo.seed(posts=options.posts, comments=options.comments, users=options.users)
        admin = db.session.scalar(select(User).where(User.role == "admin"))
        rng = random.Random(13)
        post_ids = db.session.scalars(select(Post.id).limit(1000)).all()
        comment_ids = db.session.scalars(select(Comment.id).limit(20_000)).all()
        now = utcnow()
        db.session.execute(Activity.__table__.insert(), [
            {"created_at": now - timedelta(minutes=n), "actor_id": admin.id, "actor_name": admin.username,
             "action": "comment.approved", "post_id": rng.choice(post_ids), "comment_id": comment_id,
             "subject": "comment by someone on “a post”", "detail": ""} for n, comment_id in enumerate(comment_ids)])
        today = now.date()
        db.session.execute(PostViewDay.__table__.insert(), [
            {"post_id": post_id, "day": today - timedelta(days=day), "views": rng.randint(1, 50)}
            for post_id in post_ids for day in range(30)])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":  # what autovacuum does soon after a bulk load
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
        counts = [db.session.query(model).count() for model in (Post, Comment, User, Activity)]
        print(f"seeded {counts[0]:,} posts, {counts[1]:,} comments, {counts[2]:,} users, {counts[3]:,} history lines"
              f" in {time.perf_counter() - started:.0f} s ({db.engine.dialect.name})")

        app.config["WTF_CSRF_ENABLED"] = False  # the bulk POST below comes without a page to take a token from
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"], session["_fresh"] = admin.get_id(), True
        api = {"Authorization": f"Bearer {tokens.issue(admin)[0]}"}
        print(f"{'url':<46}{'queries':>8}{'median ms':>11}{'p95 ms':>9}{'bytes':>9}")
        for url in URLS:
            result = time_get(client, url, options.requests, api if url.startswith("/api/") else None)
            print(f"{url:<46}{result.queries:>8}{result.median_ms:>11.1f}{result.p95_ms:>9.1f}{result.bytes:>9}")

        from sqlalchemy import event

        pending = db.session.scalars(select(Comment.id).where(Comment.status == "pending").limit(1000)).all()
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        started = time.perf_counter()
        response = client.post("/admin/comments/bulk", data={"ids": pending, "action": "reject", "status": "pending",
                                                             "next": "/admin/comments"})
        elapsed = (time.perf_counter() - started) * 1000
        print(f"POST /admin/comments/bulk, {len(pending):,} ids: {response.status_code}, {len(statements)} statements "
              f"(of which UPDATE/INSERT: {sum(1 for s in statements if s.lstrip()[:6] in ('UPDATE', 'INSERT'))}),"
              f" {elapsed:.0f} ms")


if __name__ == "__main__":
    main()
