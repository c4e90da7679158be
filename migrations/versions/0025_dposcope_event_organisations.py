"""audit_event_organisation: whose organisation DPO sees each audit event, indexed when sequenced

An organisation DPO's search tested every event of the log, newest first, against their scope
(their users' acts, the children their organisation holds now, the listings that showed one)
until a page was full: 271 to 673 ms for a force and an authority, growing with how thinly the
scope is spread through the log. The integrator now writes (organisation, event) for the actor's
organisation and every organisation holding the event's children when it sequences the event
(hub.permissions.dpo.event_organisations), and the search walks the organisation's rows newest
first. Derived data beside the log, never in a leaf; append-only like the log.

Existing sequenced events are indexed here, 5,000 at a time, by the same rule applied to the
relationships as they stand at the upgrade: what each DPO saw before the upgrade stays what they
see (the log does not say who held a child when an old event happened). Entries still pending
are indexed by the integrator. At millions of events this takes minutes.

Revision ID: 0025_dposcope
Revises: 0024_retention
"""
import sqlalchemy as sa
from alembic import op

from hub.permissions.dpo import event_organisations

revision = '0025_dposcope'
down_revision = '0024_retention'
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    table = op.create_table(
        'audit_event_organisation',
        sa.Column('organisation_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('event_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('organisation_id', 'event_id', name=op.f('pk_audit_event_organisation')),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER audit_event_organisation_append_only BEFORE UPDATE OR DELETE ON "
                   "audit_event_organisation FOR EACH ROW EXECUTE FUNCTION audit_append_only()")
        op.execute("CREATE TRIGGER audit_event_organisation_no_truncate BEFORE TRUNCATE ON "
                   "audit_event_organisation FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_event_organisation_no_{verb.lower()} BEFORE {verb} ON "
                       "audit_event_organisation BEGIN SELECT RAISE(ABORT, "
                       "'audit_event_organisation is append-only'); END")
    _index_sequenced_events(table)


def _index_sequenced_events(table: sa.Table) -> None:
    bind = op.get_bind()
    event = sa.table('audit_event', sa.column('id'), sa.column('seq'), sa.column('actor_org_id'),
                     sa.column('child_id'), sa.column('detail'))
    last = 0
    while True:
        events = bind.execute(
            sa.select(event.c.id, event.c.actor_org_id, event.c.child_id, event.c.detail)
            .where(event.c.seq.is_not(None), event.c.id > last).order_by(event.c.id).limit(BATCH)).mappings().all()
        if not events:
            return
        if rows := event_organisations(bind, events):
            bind.execute(sa.insert(table), rows)
        last = events[-1]["id"]


def downgrade() -> None:
    op.drop_table('audit_event_organisation')  # its triggers go with it
