"""flag groups (one open flag per user, rule and London day, with the events behind it), the
flag rules' scan mark, and working hours per organisation

Existing flags become groups of one event; open ones of the same user, rule and day are merged
into the oldest. The audit log itself is only read.

Revision ID: 0012
Revises: 0011

"""
from datetime import timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

LONDON = ZoneInfo('Europe/London')
OPEN_ONLY = sa.text("status = 'open'")

flag = sa.table('audit_flag', sa.column('id', sa.Integer), sa.column('kind', sa.String), sa.column('status', sa.String),
                sa.column('event_seq', sa.BigInteger), sa.column('actor_user_id', sa.Integer),
                sa.column('child_id', sa.Integer), sa.column('raised_at', sa.DateTime(timezone=True)),
                sa.column('day', sa.Date), sa.column('event_count', sa.Integer),
                sa.column('last_event_seq', sa.BigInteger), sa.column('first_event_at', sa.DateTime(timezone=True)),
                sa.column('last_event_at', sa.DateTime(timezone=True)))
flag_event = sa.table('audit_flag_event', sa.column('kind', sa.String), sa.column('event_seq', sa.BigInteger),
                      sa.column('flag_id', sa.Integer), sa.column('child_id', sa.Integer))
event = sa.table('audit_event', sa.column('seq', sa.BigInteger), sa.column('occurred_at', sa.DateTime(timezone=True)))


def upgrade() -> None:
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('working_hours_start', sa.String(length=5), server_default='08:00',
                                      nullable=False))
        batch_op.add_column(sa.Column('working_hours_end', sa.String(length=5), server_default='18:00',
                                      nullable=False))

    op.create_table('audit_flag_scan',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('scanned_to_seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_flag_scan'))
    )
    op.execute(sa.text('INSERT INTO audit_flag_scan (id, scanned_to_seq) VALUES (1, 0)'))

    with op.batch_alter_table('audit_flag', schema=None) as batch_op:
        batch_op.add_column(sa.Column('day', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('event_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_event_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('first_event_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True))

    # audit_flag is rebuilt below (SQLite), so the table that refers to it comes after, filled
    # from what was read here: rebuilding a referenced table would cascade its deletes.
    behind = _group_existing_flags(op.get_bind())

    with op.batch_alter_table('audit_flag', schema=None) as batch_op:
        batch_op.alter_column('day', existing_type=sa.Date(), nullable=False)
        batch_op.alter_column('event_count', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('child_id')
    op.create_table('audit_flag_event',
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('event_seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['flag_id'], ['audit_flag.id'], name=op.f('fk_audit_flag_event_flag_id_audit_flag'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('kind', 'event_seq', name=op.f('pk_audit_flag_event'))
    )
    with op.batch_alter_table('audit_flag_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_flag_event_flag_child', ['flag_id', 'child_id'], unique=False)

    if behind:
        op.bulk_insert(flag_event, behind)
    op.create_index('ix_audit_flag_open_group', 'audit_flag', ['kind', 'actor_user_id', 'day'], unique=True,
                    sqlite_where=OPEN_ONLY, postgresql_where=OPEN_ONLY)


def _group_existing_flags(conn) -> list[dict]:
    """Fill the new columns, merge open flags of one user, rule and day into the oldest, and
    return the events behind each flag."""
    rows = conn.execute(sa.select(flag.c.id, flag.c.kind, flag.c.status, flag.c.event_seq, flag.c.actor_user_id,
                                  flag.c.child_id, flag.c.raised_at, event.c.occurred_at)
                        .select_from(flag.outerjoin(event, event.c.seq == flag.c.event_seq))
                        .order_by(flag.c.id)).all()
    keepers: dict[tuple, dict] = {}
    behind = []
    for row in rows:
        at = row.occurred_at or row.raised_at
        at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at
        day = at.astimezone(LONDON).date()
        key = (row.kind, row.actor_user_id, day)
        keeper = keepers.get(key) if row.status == 'open' else None
        if keeper is None:
            behind.append({'kind': row.kind, 'event_seq': row.event_seq, 'flag_id': row.id, 'child_id': row.child_id})
            conn.execute(flag.update().where(flag.c.id == row.id).values(
                day=day, event_count=1, last_event_seq=row.event_seq, first_event_at=at, last_event_at=at))
            if row.status == 'open':
                keepers[key] = {'id': row.id, 'count': 1}
            continue
        keeper['count'] += 1
        behind.append({'kind': row.kind, 'event_seq': row.event_seq, 'flag_id': keeper['id'],
                       'child_id': row.child_id})
        conn.execute(flag.update().where(flag.c.id == keeper['id']).values(
            event_count=keeper['count'], last_event_seq=row.event_seq, last_event_at=at))
        conn.execute(flag.delete().where(flag.c.id == row.id))
    return behind


def downgrade() -> None:
    """Groups stay as one flag each (the first event's), with that event's child."""
    op.drop_index('ix_audit_flag_open_group', table_name='audit_flag')
    with op.batch_alter_table('audit_flag', schema=None) as batch_op:
        batch_op.add_column(sa.Column('child_id', sa.Integer(), nullable=True))
    conn = op.get_bind()
    conn.execute(flag.update().values(child_id=sa.select(flag_event.c.child_id).where(
        flag_event.c.kind == flag.c.kind, flag_event.c.event_seq == flag.c.event_seq).scalar_subquery()))
    with op.batch_alter_table('audit_flag', schema=None) as batch_op:
        batch_op.drop_column('last_event_at')
        batch_op.drop_column('first_event_at')
        batch_op.drop_column('last_event_seq')
        batch_op.drop_column('event_count')
        batch_op.drop_column('day')

    with op.batch_alter_table('audit_flag_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_flag_event_flag_child')
    op.drop_table('audit_flag_event')
    op.drop_table('audit_flag_scan')

    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_column('working_hours_end')
        batch_op.drop_column('working_hours_start')
