"""pages (post kind, header order), guest comment authors, redirects, import bookkeeping

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 21:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), nullable=False, server_default='post'))
        batch_op.add_column(sa.Column('nav_order', sa.Integer(), nullable=True))
        batch_op.create_index('ix_posts_kind_nav_order', ['kind', 'nav_order'], unique=False)

    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('author_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('author_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('author_url', sa.String(length=500), nullable=True))

    op.create_table(
        'redirects',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('old_path', sa.String(length=500), nullable=False),
        sa.Column('target', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_redirects')),
        sa.UniqueConstraint('old_path', name=op.f('uq_redirects_old_path')),
    )
    op.create_table(
        'imported_items',
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('external_id', sa.String(length=300), nullable=False),
        sa.Column('local_id', sa.Integer(), nullable=False),
        sa.Column('local_name', sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint('source', 'kind', 'external_id', name=op.f('pk_imported_items')),
    )


def downgrade():
    op.drop_table('imported_items')
    op.drop_table('redirects')
    # In place, not batch mode: batch mode copies and drops the table on SQLite, and the drop would
    # cascade to replies, tags and comments. SQLite 3.35+ drops a column itself.
    for column in ('author_url', 'author_email', 'author_name'):
        op.drop_column('comments', column)
    op.drop_index('ix_posts_kind_nav_order', table_name='posts')
    op.drop_column('posts', 'nav_order')
    op.drop_column('posts', 'kind')
