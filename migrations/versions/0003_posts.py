"""posts: cover state, slug redirects, listing indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 08:32:17.371444

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('post_redirects',
    sa.Column('old_slug', sa.String(length=220), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_redirects_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('old_slug', name=op.f('pk_post_redirects'))
    )
    with op.batch_alter_table('post_redirects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_redirects_post_id'), ['post_id'], unique=False)

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cover_processed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.drop_index(batch_op.f('ix_posts_author_id'))
        batch_op.drop_index(batch_op.f('ix_posts_category_id'))
        batch_op.create_index('ix_posts_author_status_published', ['author_id', 'status', 'published_at'], unique=False)
        batch_op.create_index('ix_posts_category_status_published', ['category_id', 'status', 'published_at'], unique=False)



def downgrade():
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index('ix_posts_category_status_published')
        batch_op.drop_index('ix_posts_author_status_published')
        batch_op.create_index(batch_op.f('ix_posts_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_posts_author_id'), ['author_id'], unique=False)
        batch_op.drop_column('cover_processed')

    with op.batch_alter_table('post_redirects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_redirects_post_id'))

    op.drop_table('post_redirects')
