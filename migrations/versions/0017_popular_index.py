"""the most-read widget's index (status, kind, views)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 00:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


# Plain CREATE/DROP INDEX (no batch mode): a batch copy of `posts` on SQLite would cascade deletes.
def upgrade():
    op.create_index('ix_posts_status_kind_views', 'posts', ['status', 'kind', 'views'], unique=False)


def downgrade():
    op.drop_index('ix_posts_status_kind_views', table_name='posts')
