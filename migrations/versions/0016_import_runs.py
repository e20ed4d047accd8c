"""import runs started from /admin/import (status, progress, reports)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 00:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'import_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('file_name', sa.String(length=255), nullable=False),
        sa.Column('stored_name', sa.String(length=80), nullable=True),
        sa.Column('file_bytes', sa.Integer(), nullable=False),
        sa.Column('format', sa.String(length=10), nullable=False),
        sa.Column('phase', sa.String(length=10), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('dry_run_report', sa.Text(), nullable=True),
        sa.Column('report', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_import_runs_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_runs')),
    )
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.create_index('ix_import_runs_status', ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_runs_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_runs_user_id'))
        batch_op.drop_index('ix_import_runs_status')
    op.drop_table('import_runs')
