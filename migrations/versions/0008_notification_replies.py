"""notification replies to the police, and still-missing school days

Revision ID: 0008
Revises: 0007

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notification_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('share_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('seen_at_school', 'information', name='replykind', native_enum=False, length=20), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['episode_id'], ['missing_episode.id'], name=op.f('fk_notification_reply_episode_id_missing_episode')),
    sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], name=op.f('fk_notification_reply_notification_id_notification')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_notification_reply_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['share_id'], ['share_record.id'], name=op.f('fk_notification_reply_share_id_share_record')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_reply_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_reply'))
    )
    with op.batch_alter_table('notification_reply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_reply_episode_id'), ['episode_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_reply_notification_id'), ['notification_id'], unique=False)

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('school_day', sa.Date(), nullable=True))
        batch_op.create_index('uq_notification_still_missing_day', ['episode_id', 'user_id', 'school_day'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('uq_notification_still_missing_day')
        batch_op.drop_column('school_day')

    with op.batch_alter_table('notification_reply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_reply_notification_id'))
        batch_op.drop_index(batch_op.f('ix_notification_reply_episode_id'))

    op.drop_table('notification_reply')
