"""images in posts: the media table, which posts use which media, cover alt text

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 00:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'media',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('original_name', sa.String(length=255), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('bytes', sa.Integer(), nullable=False),
        sa.Column('alt', sa.String(length=500), nullable=False),
        sa.Column('processed', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_media_owner_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_media')),
        sa.UniqueConstraint('key', name=op.f('uq_media_key')),
    )
    op.create_index('ix_media_owner_created', 'media', ['owner_id', 'created_at'], unique=False)
    op.create_table(
        'media_usage',
        sa.Column('post_id', sa.Integer(), nullable=False),
        sa.Column('media_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['media_id'], ['media.id'], name=op.f('fk_media_usage_media_id_media'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_media_usage_post_id_posts'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('post_id', 'media_id', name=op.f('pk_media_usage')),
    )
    op.create_index(op.f('ix_media_usage_media_id'), 'media_usage', ['media_id'], unique=False)
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cover_alt', sa.String(length=300), nullable=False, server_default=''))


def downgrade():
    # In place, not batch mode: batch mode copies and drops `posts` on SQLite, and the drop would
    # cascade to comments, tags and redirects. SQLite 3.35+ drops a column itself.
    op.drop_column('posts', 'cover_alt')
    op.drop_index(op.f('ix_media_usage_media_id'), table_name='media_usage')
    op.drop_table('media_usage')
    op.drop_index('ix_media_owner_created', table_name='media')
    op.drop_table('media')
