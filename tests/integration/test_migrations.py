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
