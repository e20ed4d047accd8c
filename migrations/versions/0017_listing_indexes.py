"""listing indexes include the post kind (SQLite read every body to filter on it)

Revision ID: 0017
Revises: 0010
Create Date: 2026-12-02 00:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0010'
branch_labels = None
depends_on = None

_REPLACED = {
    # old name: (old columns, new name, new columns)
    'ix_posts_status_published_at': (['status', 'published_at'],
                                     'ix_posts_status_kind_published', ['status', 'kind', 'published_at']),
    'ix_posts_category_status_published': (['category_id', 'status', 'published_at'],
                                           'ix_posts_category_status_kind_published',
                                           ['category_id', 'status', 'kind', 'published_at']),
    'ix_posts_author_status_published': (['author_id', 'status', 'published_at'],
                                         'ix_posts_author_status_kind_published',
                                         ['author_id', 'status', 'kind', 'published_at']),
}


# Plain CREATE/DROP INDEX (no batch mode): a batch copy of `posts` on SQLite would cascade deletes.
def upgrade():
    for old, (_, new, columns) in _REPLACED.items():
        op.create_index(new, 'posts', columns, unique=False)
        op.drop_index(old, table_name='posts')
    op.create_index('ix_posts_status_kind_views', 'posts', ['status', 'kind', 'views'], unique=False)


def downgrade():
    op.drop_index('ix_posts_status_kind_views', table_name='posts')
    for old, (columns, new, _) in _REPLACED.items():
        op.create_index(old, 'posts', columns, unique=False)
        op.drop_index(new, table_name='posts')
