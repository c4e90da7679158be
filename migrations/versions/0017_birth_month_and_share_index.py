"""children's month of birth in clear, for the reports' age bands; indexes for the reports and shares

The date of birth stays encrypted; reports band ages (10 and under, 11-14, 15-17) in SQL from
the first day of the month of birth, which `Child` keeps in step with the date. Existing children
get it from their decrypted date of birth (needs the hub's field keys, as 0015 does).

`ix_share_record_child_sender` (child, sender organisation): a child's page asks for the shares
its viewer's organisation sent about the child, which the (sender, time) index answered by reading
every share the organisation ever sent. The reports count a period's episodes by their start
(`ix_missing_episode_reported_start`) and read school notifications' acknowledgement columns from
an index that covers them (`ix_notification_episode_report`).

Revision ID: 0017
Revises: 0016
"""
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD / DROP COLUMN (SQLite has both): a batch copy of `child` would trip the foreign
    # keys of every table that points at it.
    op.add_column('child', sa.Column('birth_month', sa.Date(), nullable=True))
    op.create_index('ix_share_record_child_sender', 'share_record', ['child_id', 'sender_org_id'])
    op.create_index('ix_missing_episode_reported_start', 'missing_episode', ['reported_start'])
    op.create_index('ix_notification_episode_report', 'notification',
                    ['episode_id', 'reason', 'group_key', 'acknowledged_at', 'deadline_at', 'escalated_at',
                     'organisation_id'])
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, date_of_birth FROM child")).all()
    if not rows:
        return
    from hub import crypto

    child = sa.table('child', sa.column('id', sa.Integer), sa.column('birth_month', sa.Date))
    bind.execute(child.update().where(child.c.id == sa.bindparam('child')).values(birth_month=sa.bindparam('month')),
                 [{"child": child_id, "month": date.fromisoformat(crypto.decrypt(token)).replace(day=1)}
                  for child_id, token in rows if token])


def downgrade() -> None:
    op.drop_index('ix_notification_episode_report', table_name='notification')
    op.drop_index('ix_missing_episode_reported_start', table_name='missing_episode')
    op.drop_index('ix_share_record_child_sender', table_name='share_record')
    op.execute("ALTER TABLE child DROP COLUMN birth_month")
