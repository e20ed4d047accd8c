"""admin: the moderation history, reads per day, indexes for registrations per day and the review list

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'activity',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_name', sa.String(length=40), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('post_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('comment_id', sa.Integer(), nullable=True),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['post_id'], ['posts.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index('ix_activity_actor_id', ['actor_id'], unique=False)
        batch_op.create_index('ix_activity_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_activity_post_id_created_at', ['post_id', 'created_at'], unique=False)
        batch_op.create_index('ix_activity_user_id_created_at', ['user_id', 'created_at'], unique=False)
    op.create_table(
        'post_view_days',
        sa.Column('post_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('views', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['post_id'], ['posts.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('post_id', 'day'),
    )
    with op.batch_alter_table('post_view_days', schema=None) as batch_op:
        batch_op.create_index('ix_post_view_days_day', ['day'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.create_index('ix_posts_status_updated_at', ['status', 'updated_at'], unique=False)


def downgrade():
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index('ix_posts_status_updated_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_created_at')
    with op.batch_alter_table('post_view_days', schema=None) as batch_op:
        batch_op.drop_index('ix_post_view_days_day')
    op.drop_table('post_view_days')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_user_id_created_at')
        batch_op.drop_index('ix_activity_post_id_created_at')
        batch_op.drop_index('ix_activity_created_at')
        batch_op.drop_index('ix_activity_actor_id')
    op.drop_table('activity')
