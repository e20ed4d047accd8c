"""listings: covering indexes for public post lists, so deep pages cost about what page 1 costs

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-02 00:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    # Plain CREATE/DROP INDEX (no batch mode: that would copy the posts table on SQLite).
    op.create_index('ix_posts_listing', 'posts', ['status', 'kind', 'published_at', 'id'], unique=False)
    op.create_index('ix_posts_category_listing', 'posts', ['category_id', 'status', 'kind', 'published_at', 'id'],
                    unique=False)
    op.create_index('ix_posts_author_listing', 'posts', ['author_id', 'status', 'kind', 'published_at', 'id'],
                    unique=False)
    op.drop_index('ix_posts_category_status_published', table_name='posts')
    op.drop_index('ix_posts_author_status_published', table_name='posts')


def downgrade():
    op.create_index('ix_posts_author_status_published', 'posts', ['author_id', 'status', 'published_at'], unique=False)
    op.create_index('ix_posts_category_status_published', 'posts', ['category_id', 'status', 'published_at'],
                    unique=False)
    op.drop_index('ix_posts_author_listing', table_name='posts')
    op.drop_index('ix_posts_category_listing', table_name='posts')
    op.drop_index('ix_posts_listing', table_name='posts')
