"""users.timezone: each person's own time zone (IANA name; NULL: the site's); /my/posts index

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (nullable, no default) on every database: no table copy.
    op.add_column('users', sa.Column('timezone', sa.String(length=64), nullable=True))
    op.create_index('ix_posts_author_status_updated', 'posts', ['author_id', 'status', 'updated_at'], unique=False)


def downgrade():
    # In place, not batch mode: a batch copy+drop of `users` would cascade to posts and comments.
    # SQLite 3.35+ drops a column itself.
    op.drop_index('ix_posts_author_status_updated', table_name='posts')
    op.drop_column('users', 'timezone')
