"""posts.word_count: the words of the rendered text, counted when it is saved

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 07:45:00

"""
import html
import re

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

# The same count as services.seo.count_words (kept here: a migration must not change with the app).
_TAGS = re.compile(r"<[^>]+>")
_WORD = re.compile(r"\w[\w'’-]*")
BATCH = 500


def _count(markup):
    return len(_WORD.findall(html.unescape(_TAGS.sub(" ", markup or ""))))


def upgrade():
    # A plain ADD COLUMN (no batch mode): a batch copy of `posts` on SQLite would cascade deletes.
    op.add_column('posts', sa.Column('word_count', sa.Integer(), server_default='0', nullable=False))
    conn = op.get_bind()
    posts = sa.table('posts', sa.column('id', sa.Integer), sa.column('html', sa.Text),
                     sa.column('word_count', sa.Integer))
    last = 0
    while True:  # in batches by id: a big blog's bodies are never all in memory at once
        rows = conn.execute(sa.select(posts.c.id, posts.c.html).where(posts.c.id > last)
                            .order_by(posts.c.id).limit(BATCH)).all()
        if not rows:
            break
        conn.execute(posts.update().where(posts.c.id == sa.bindparam('row_id')).values(word_count=sa.bindparam('n')),
                     [{'row_id': row_id, 'n': _count(markup)} for row_id, markup in rows])
        last = rows[-1][0]


def downgrade():
    op.drop_column('posts', 'word_count')
