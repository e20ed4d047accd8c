"""reach: email subscribers, what each address was sent, pending new-post mails, digest runs, mail headers, daily read counts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 21:39:09.459626

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('digest_runs',
    sa.Column('week', sa.String(length=10), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=False),
    sa.Column('until', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('sent', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('week', name=op.f('pk_digest_runs'))
    )
    op.create_table('subscribers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('tag_id', sa.Integer(), nullable=True),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('confirm_sent_at', sa.DateTime(), nullable=True),
    sa.Column('bounced_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_subscribers_category_id_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_subscribers_tag_id_tags'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscribers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscribers')),
    sa.UniqueConstraint('email', 'scope', name='uq_subscribers_email_scope')
    )
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscribers_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subscribers_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_subscribers_frequency_confirmed', ['frequency', 'confirmed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_subscribers_tag_id'), ['tag_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subscribers_user_id'), ['user_id'], unique=False)

    op.create_table('subscription_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('mail_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['mail_id'], ['mail_messages.id'], name=op.f('fk_subscription_deliveries_mail_id_mail_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_deliveries')),
    sa.UniqueConstraint('email', 'key', name='uq_subscription_deliveries_email_key')
    )
    with op.batch_alter_table('subscription_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_deliveries_key'), ['key'], unique=False)
        batch_op.create_index(batch_op.f('ix_subscription_deliveries_mail_id'), ['mail_id'], unique=False)

    op.create_table('post_announcements',
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_announcements_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('post_id', name=op.f('pk_post_announcements'))
    )
    with op.batch_alter_table('post_announcements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_announcements_done_at'), ['done_at'], unique=False)

    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('headers', sa.JSON(), nullable=False, server_default='{}'))



def downgrade():
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.drop_column('headers')

    with op.batch_alter_table('post_announcements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_announcements_done_at'))

    op.drop_table('post_announcements')
    with op.batch_alter_table('subscription_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_deliveries_mail_id'))
        batch_op.drop_index(batch_op.f('ix_subscription_deliveries_key'))

    op.drop_table('subscription_deliveries')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscribers_user_id'))
        batch_op.drop_index(batch_op.f('ix_subscribers_tag_id'))
        batch_op.drop_index('ix_subscribers_frequency_confirmed')
        batch_op.drop_index(batch_op.f('ix_subscribers_created_at'))
        batch_op.drop_index(batch_op.f('ix_subscribers_category_id'))

    op.drop_table('subscribers')
    op.drop_table('digest_runs')
