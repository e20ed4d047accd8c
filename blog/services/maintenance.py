"""Database upkeep the periodic tasks run."""
from __future__ import annotations

from sqlalchemy import text

from blog.extensions import db


def analyze() -> bool:
    """Refresh SQLite's planner statistics (``ANALYZE``); PostgreSQL's autovacuum does its own.

    Without them SQLite reads a post's comments through the (status, created_at) index, every
    approved comment on the site, instead of the (post_id, status) one: at 100,000 comments the
    post page took seconds. Returns whether it ran.
    """
    if db.engine.dialect.name != "sqlite":
        return False
    with db.engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()
    return True
