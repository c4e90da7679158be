"""looked-after periods: when each child was looked after, for the SSDA903 missing file

`looked_after_period` (child, first day, last day or none while it goes on). Until now the hub kept
only whether a child is looked after now, so the 903 file dropped the in-year episodes of a child
who has since left care. Each child looked after now gets one open period, starting on the earliest
date the hub knows of them (their record's creation or their first episode, whichever is earlier):
the hub has no earlier history, and a period that starts too early only keeps an episode that the
return's own checks would otherwise have had to drop.

Revision ID: 0022_looked_after_periods
Revises: 0021_stored_deadlines
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0022_looked_after_periods'
down_revision = '0021_stored_deadlines'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'looked_after_period',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('child_id', sa.Integer(), sa.ForeignKey('child.id'), nullable=False),
        sa.Column('started_on', sa.Date(), nullable=False),
        sa.Column('ended_on', sa.Date(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_looked_after_period_child_id', 'looked_after_period', ['child_id'])
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT c.id, c.created_at, MIN(e.reported_start) FROM child c "
        "LEFT JOIN missing_episode e ON e.child_id = c.id WHERE c.looked_after = :yes "
        "GROUP BY c.id, c.created_at"), {"yes": True}).all()
    period = sa.table('looked_after_period', sa.column('child_id', sa.Integer), sa.column('started_on', sa.Date),
                      sa.column('ended_on', sa.Date), sa.column('created_at', sa.DateTime(timezone=True)))
    for child_id, created, first_episode in rows:
        created, first_episode = _moment(created), _moment(first_episode)
        known = min(m for m in (created, first_episode) if m is not None)
        op.bulk_insert(period, [{"child_id": child_id, "started_on": known.date(), "ended_on": None,
                                 "created_at": datetime.now(timezone.utc)}])


def _moment(value: object) -> datetime | None:
    """A timestamp as SQLite returns it from an aggregate (text) or as PostgreSQL does, in UTC."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def downgrade() -> None:
    op.drop_index('ix_looked_after_period_child_id', table_name='looked_after_period')
    op.drop_table('looked_after_period')
