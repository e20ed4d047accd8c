"""faults: mail back-off (next_attempt_at, failed_at), post version for optimistic locking,
case-insensitive unique usernames

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:45:00.000000

``uq_users_username_lower`` fails to build if two existing usernames differ only in case;
the application has refused such pairs since 0002, so none should exist.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('failed_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_mail_messages_next_attempt_at'), ['next_attempt_at'], unique=False)

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))

    op.create_index('uq_users_username_lower', 'users', [sa.text('lower(username)')], unique=True)


def downgrade():
    op.drop_index('uq_users_username_lower', table_name='users')

    # In place, not batch mode: batch mode copies and drops ``posts`` on SQLite, and the
    # drop cascades to ``post_tags``, losing every post's tags. SQLite 3.35+ drops a column itself.
    op.drop_column('posts', 'version')

    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_messages_next_attempt_at'))
        batch_op.drop_column('failed_at')
        batch_op.drop_column('next_attempt_at')
