"""sessions: a per-user session version, so logging out ends every session and remember-me cookie

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


# Plain ALTER TABLE, no batch mode: SQLite (3.35+) adds and drops a column in place, while a
# batch "move and copy" of users would cascade-delete every post with foreign keys on.

def upgrade():
    op.add_column('users', sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    op.drop_column('users', 'session_version')
