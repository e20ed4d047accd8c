"""post revisions (every save, the latest autosave per writer)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 00:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'post_revisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('post_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('base_version', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('summary', sa.String(length=500), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('tags', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_revisions_post_id_posts'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_post_revisions_author_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_post_revisions')),
    )
    op.create_index('ix_post_revisions_post_id_created_at', 'post_revisions', ['post_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_post_revisions_author_id'), 'post_revisions', ['author_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_post_revisions_author_id'), table_name='post_revisions')
    op.drop_index('ix_post_revisions_post_id_created_at', table_name='post_revisions')
    op.drop_table('post_revisions')
