"""Shared set-up for the benchmark scripts: a throw-away app and a timer for GET requests."""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def bench_app(**env: str):
    """A migrated app on a temporary SQLite file (or DATABASE_URL when set), logging quietly.

    Call it before anything imports ``blog``: the configuration reads the environment at import.
    """
    tmp = Path(tempfile.mkdtemp(prefix="blog-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'bench.db'}")
    os.environ.update(INSTANCE_PATH=str(tmp), LOG_LEVEL="WARNING", BLOG_ENV="development", **env)

    from flask_migrate import upgrade

    from blog import create_app

    app = create_app()
    with app.app_context():
        upgrade()
    return app


@dataclass
class Timing:
    median_ms: float
    p95_ms: float
    bytes: int
    queries: int


def time_get(client, url: str, requests: int, headers: dict | None = None) -> Timing:
    """Median and p95 server time of ``requests`` GETs (after one warm-up), bytes and SQL statements of the last."""
    from sqlalchemy import event

    from blog.extensions import db

    statements: list[str] = []

    def count(*args) -> None:
        statements.append(args[2])

    client.get(url, headers=headers or {})  # warm caches
    timings = []
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(requests):
            statements.clear()
            started = time.perf_counter()
            response = client.get(url, headers=headers or {})
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    timings.sort()
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    return Timing(statistics.median(timings), p95, len(response.data), len(statements))
