"""comments: html, soft delete, submission guard, notifications

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 08:37:27.907086

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('html', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('submission_id', sa.String(length=40), nullable=True))
        batch_op.drop_index(batch_op.f('ix_comments_status'))
        batch_op.create_index('ix_comments_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_unique_constraint('uq_comments_author_id_submission', ['author_id', 'submission_id'])

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_comments', sa.Boolean(), nullable=False, server_default=sa.true()))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('notify_comments')

    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_constraint('uq_comments_author_id_submission', type_='unique')
        batch_op.drop_index('ix_comments_status_created_at')
        batch_op.create_index(batch_op.f('ix_comments_status'), ['status'], unique=False)
        batch_op.drop_column('submission_id')
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('html')

