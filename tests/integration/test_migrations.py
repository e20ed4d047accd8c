"""The Alembic migrations build exactly the schema the models describe."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade
from flask_migrate import upgrade
from sqlalchemy import inspect
from sqlalchemy import text

from blog.extensions import db
from blog.services import fulltext
from blog.services import seo


def _drop_everything() -> None:
    db.drop_all()
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_upgrade_from_empty_matches_the_models_and_downgrade_removes_it(app):
    _drop_everything()
    upgrade()
    with db.engine.connect() as conn:
        # As migrations/env.py does: the search index is no model, so it is left out of the comparison.
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True,
                                                         "include_name": fulltext.include_name})
        differences = compare_metadata(context, db.metadata)
    assert differences == []
    tables = set(inspect(db.engine).get_table_names())
    assert {"users", "posts", "categories", "tags", "post_tags", "comments", "api_tokens"} <= tables
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    _drop_everything()


def _insert(conn, table: str, **values) -> None:
    """A row in ``table`` as the schema stands now (no model: they describe the newest one), every
    other required column filled with a plain value of its type."""
    for column in inspect(conn).get_columns(table):
        if column["name"] not in values and not column["nullable"] and column.get("default") is None:
            kind = str(column["type"]).upper()
            values[column["name"]] = (False if "BOOL" in kind else 0 if "INT" in kind
                                      else "2026-01-01 00:00:00" if "DATE" in kind or "TIME" in kind
                                      else "{}" if "JSON" in kind else "x")
    names = ", ".join(values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in values)})"), values)


def test_0018_counts_the_words_of_posts_saved_before_it(app):
    """Posts written before the column existed get their count from their HTML, as a save would."""
    _drop_everything()
    upgrade(revision="0017")
    markup = "<p>Fish &amp; chips, <em>twice</em>.</p><pre><code>print('hi')</code></pre>"
    with db.engine.begin() as conn:
        _insert(conn, "users", id=1, username="ada", email="ada@example.com")
        _insert(conn, "posts", id=1, slug="t", html=markup, author_id=1)
        _insert(conn, "posts", id=2, slug="u", html="", author_id=1)
    upgrade()
    with db.engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT id, word_count FROM posts")).all())
    assert counts == {1: seo.count_words(markup), 2: 0} and counts[1] == 5
    downgrade(revision="base")
    _drop_everything()
