"""missing episodes: the due time of each duty not yet done, stored, for the menu's overdue count

The menu counted overdue duties by running hub.missing.rules over every open episode the user
may see, on every page: its cost grew with the number of open episodes (seconds a page after a
large download). Each episode now carries the due time of each duty not yet done (prevention
check, return interview, IRO told, trigger plan), the earliest of them and what it is; the rules
still compute them (hub.missing.deadlines, on every write of an episode), and the count is one
query through `ix_missing_episode_found_next_due` (found_at, next_due_at). Existing episodes are
filled here by the same function the service calls. The missing team's list reads its page of open
and lately found episodes, newest first, through `ix_missing_episode_found_start` (found_at,
reported_start), instead of sorting every open episode in reach. The menu's count of a key adult's
notifications waiting for acknowledgement reads `ix_notification_user_waiting` (user_id,
acknowledged_at), not every notification the user was ever sent; a social worker's reach on every
page finds the episodes of their authority through `ix_missing_episode_home_authority` and
`ix_missing_episode_receiving_authority`, where it read every episode in the hub.

Revision ID: 0021_stored_deadlines
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

from hub.db import UTCDateTime
from hub.missing import deadlines

revision = '0021_stored_deadlines'
down_revision = '0020'
branch_labels = None
depends_on = None

DUE_AT = ('prevention_check_due_at', 'return_interview_due_at', 'iro_told_due_at', 'trigger_plan_due_at',
          'next_due_at')


def upgrade() -> None:
    # Plain ADD / DROP COLUMN (SQLite has both): a batch copy of `missing_episode` would trip the
    # foreign keys of the tables that point at it.
    for name in DUE_AT:
        op.add_column('missing_episode', sa.Column(name, UTCDateTime(), nullable=True))
    op.add_column('missing_episode', sa.Column('next_due', sa.String(60), nullable=True))
    op.create_index('ix_missing_episode_found_next_due', 'missing_episode', ['found_at', 'next_due_at'])
    op.create_index('ix_missing_episode_found_start', 'missing_episode', ['found_at', 'reported_start'])
    op.create_index('ix_notification_user_waiting', 'notification', ['user_id', 'acknowledged_at'])
    op.create_index('ix_missing_episode_home_authority', 'missing_episode', ['home_authority_id', 'child_id'])
    op.create_index('ix_missing_episode_receiving_authority', 'missing_episode',
                    ['receiving_authority_id', 'child_id'])
    deadlines.refresh_all(op.get_bind(), note_holders=False)  # child_holder comes in 0030, which fills it


def downgrade() -> None:
    op.drop_index('ix_missing_episode_receiving_authority', table_name='missing_episode')
    op.drop_index('ix_missing_episode_home_authority', table_name='missing_episode')
    op.drop_index('ix_notification_user_waiting', table_name='notification')
    op.drop_index('ix_missing_episode_found_start', table_name='missing_episode')
    op.drop_index('ix_missing_episode_found_next_due', table_name='missing_episode')
    for name in (*DUE_AT, 'next_due'):
        op.execute(f"ALTER TABLE missing_episode DROP COLUMN {name}")
