"""search: the full-text index of published posts (FTS5 on SQLite, tsvector + GIN on PostgreSQL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:00:00.000000

The index is not a model: blog/services/fulltext.py owns it (and holds the same DDL for
``db.create_all()``); migrations/env.py leaves it out of autogenerate comparisons. The
statements are frozen here on purpose, as is the small HTML-to-text helper that fills the
index for the posts already published (``flask reindex`` rebuilds it any time).
"""
import html
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS post_search USING fts5("
    "title, tags, text, tokenize='porter unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE TRIGGER IF NOT EXISTS post_search_post_deleted AFTER DELETE ON posts "
    "BEGIN DELETE FROM post_search WHERE rowid = old.id; END",
]
POSTGRESQL = [
    "CREATE TABLE IF NOT EXISTS post_search ("
    " post_id integer PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,"
    " title text NOT NULL DEFAULT '', tags text NOT NULL DEFAULT '', text text NOT NULL DEFAULT '',"
    " document tsvector GENERATED ALWAYS AS ("
    "  setweight(to_tsvector('english', title), 'A') ||"
    "  setweight(to_tsvector('english', tags), 'B') ||"
    "  setweight(to_tsvector('english', text), 'C')) STORED)"
    # Rows stay in the table (compressed) rather than in TOAST: PostgreSQL then sees what a
    # sequential scan really costs, and uses the GIN index (2 ms, not 25, for 1,000 matches).
    " WITH (toast_tuple_target = 8160)",
    "CREATE INDEX IF NOT EXISTS ix_post_search_document ON post_search USING gin (document)",
]

_BLOCK_TAGS = re.compile(
    r"</?(?:p|div|h[1-6]|li|ul|ol|pre|blockquote|table|thead|tbody|tfoot|tr|td|th|dl|dt|dd|br|hr|img|sup)\b[^>]*>",
    re.I)
_TAGS = re.compile(r"<[^>]*>")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SPACES = re.compile(r"\s+")


def _clean(value):
    # "<" + U+0001: PostgreSQL's parser must not take text for HTML tags (see services/fulltext.py).
    return _SPACES.sub(" ", _CONTROL.sub(" ", value or "")).strip().replace("<", "<\x01")


def _plain_text(rendered):
    text = html.unescape(_TAGS.sub("", _BLOCK_TAGS.sub(" ", rendered or "")))
    return text.replace("\u21a9\ufe0e", " ").replace("\u21a9", " ")


def _backfill(bind, key):
    """Index the posts that are already published (none on a fresh database)."""
    rows = bind.execute(sa.text(
        "SELECT id, title, summary, html FROM posts WHERE status = 'published' ORDER BY id")).all()
    if not rows:
        return
    tags = {}
    for post_id, name in bind.execute(sa.text(
            "SELECT pt.post_id, t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id "
            "JOIN posts p ON p.id = pt.post_id WHERE p.status = 'published' ORDER BY t.name")):
        tags.setdefault(post_id, []).append(name)
    insert = sa.text(f"INSERT INTO post_search ({key}, title, tags, text) VALUES (:id, :title, :tags, :text)")
    bind.execute(insert, [{"id": row.id, "title": _clean(row.title), "tags": _clean(" ".join(tags.get(row.id, []))),
                           "text": _clean(f"{row.summary or ''}\n{_plain_text(row.html)}")} for row in rows])


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE:
            op.execute(statement)
        _backfill(bind, "rowid")
    elif bind.dialect.name == "postgresql":
        for statement in POSTGRESQL:
            op.execute(statement)
        _backfill(bind, "post_id")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS post_search_post_deleted")
    op.execute("DROP TABLE IF EXISTS post_search")
