"""audit log sequenced off the request: pending entries, an integrator, one event per listing

A request now inserts its audit entry with no sequence number (pending) in the same transaction
as its change, and takes no global lock; the integrator gives committed entries their gap-free
`seq`, leaf and leaf hash in batches. So `audit_event` gains a surrogate key `id` (insertion
order; existing entries get seq + 1), `seq`, `leaf` and `leaf_hash` become nullable, and the
append-only trigger allows exactly one update of an entry: from pending to integrated, with every
other column unchanged. `audit_head` may be "updated" to its own size, which is how the
integrator takes its lock on both databases.

`audit_event_child` indexes which children a listing event showed (the leaf names them too).
`audit_verification` becomes a job: queued, running, done, with progress and the verified root.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

#: Every column an integrator must leave as it found it.
FIXED = ("id", "occurred_at", "outcome", "actor_user_id", "actor_org_id", "actor_roles", "auth_method", "action",
         "object_type", "object_id", "child_id", "access_basis", "purpose", "legal_basis", "request_id",
         "client_address", "user_agent", "detail")
COPIED = FIXED[1:] + ("seq", "leaf", "leaf_hash")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _event_table() -> None:
    op.create_table(
        'audit_event',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=True),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('outcome', sa.String(length=10), nullable=False),
        sa.Column('actor_user_id', sa.Integer(), nullable=True),
        sa.Column('actor_org_id', sa.Integer(), nullable=True),
        sa.Column('actor_roles', sa.String(length=200), nullable=True),
        sa.Column('auth_method', sa.String(length=30), nullable=True),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('object_type', sa.String(length=40), nullable=True),
        sa.Column('object_id', sa.String(length=64), nullable=True),
        sa.Column('child_id', sa.Integer(), nullable=True),
        sa.Column('access_basis', sa.String(length=100), nullable=True),
        sa.Column('purpose', sa.String(length=200), nullable=True),
        sa.Column('legal_basis', sa.String(length=200), nullable=True),
        sa.Column('request_id', sa.String(length=64), nullable=True),
        sa.Column('client_address', sa.String(length=64), nullable=True),
        sa.Column('user_agent', sa.String(length=300), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('leaf', sa.LargeBinary(), nullable=True),
        sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event')),
        sa.UniqueConstraint('seq', name=op.f('uq_audit_event_seq')),
    )
    op.create_index(op.f('ix_audit_event_action'), 'audit_event', ['action'])
    op.create_index('ix_audit_event_child_id', 'audit_event', ['child_id', 'id'])
    op.create_index('ix_audit_event_user_id', 'audit_event', ['actor_user_id', 'id'])
    op.create_index('ix_audit_event_org_id', 'audit_event', ['actor_org_id', 'id'])
    op.create_index('ix_audit_event_time', 'audit_event', ['occurred_at'])
    op.create_index('ix_audit_event_pending', 'audit_event', ['id'], sqlite_where=sa.text('seq IS NULL'),
                    postgresql_where=sa.text('seq IS NULL'))


def _event_triggers() -> None:
    """Refuse DELETE, and any UPDATE but pending -> integrated with the other columns unchanged."""
    new = ", ".join(f"NEW.{c}" for c in FIXED)
    old = ", ".join(f"OLD.{c}" for c in FIXED)
    if _postgres():
        op.execute(f"""
            CREATE FUNCTION audit_event_integrates_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP <> 'UPDATE' OR OLD.seq IS NOT NULL OR NEW.seq IS NULL OR NEW.leaf IS NULL
                 OR NEW.leaf_hash IS NULL OR ROW({new}) IS DISTINCT FROM ROW({old}) THEN
                RAISE EXCEPTION 'audit_event is append-only: an entry is only ever integrated, once';
              END IF;
              RETURN NEW;
            END $$""")
        op.execute("CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
                   "FOR EACH ROW EXECUTE FUNCTION audit_event_integrates_once()")
        op.execute("CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()")
    else:
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FIXED)
        op.execute("CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
                   "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END")
        op.execute("CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
                   "WHEN OLD.seq IS NOT NULL OR NEW.seq IS NULL OR NEW.leaf IS NULL OR NEW.leaf_hash IS NULL "
                   f"OR {changed} "
                   "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: an entry is only ever integrated, once'); "
                   "END")


def _append_only(table: str) -> None:
    if _postgres():
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION audit_append_only()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


def _head_may_stay(condition: str) -> None:
    if _postgres():
        op.execute(f"""
            CREATE OR REPLACE FUNCTION audit_head_grows() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP <> 'UPDATE' OR {condition} OR NEW.id <> OLD.id THEN
                RAISE EXCEPTION 'audit_head only grows';
              END IF;
              RETURN NEW;
            END $$""")
    else:
        op.execute("DROP TRIGGER audit_head_grows")
        op.execute("CREATE TRIGGER audit_head_grows BEFORE UPDATE ON audit_head "
                   f"WHEN {condition} OR NEW.id <> OLD.id BEGIN SELECT RAISE(ABORT, 'audit_head only grows'); END")


def upgrade() -> None:
    # Rebuild audit_event with its new key: copy aside, recreate, copy back in sequence order.
    op.execute("CREATE TABLE audit_event_copy AS SELECT * FROM audit_event")
    op.drop_table('audit_event')  # its triggers and indexes go with it
    _event_table()
    op.execute(f"INSERT INTO audit_event (id, {', '.join(COPIED)}) "
               f"SELECT seq + 1, {', '.join(COPIED)} FROM audit_event_copy ORDER BY seq")
    op.drop_table('audit_event_copy')
    if _postgres():
        op.execute("SELECT setval(pg_get_serial_sequence('audit_event', 'id'), COALESCE(MAX(id), 0) + 1, false) "
                   "FROM audit_event")
    _event_triggers()

    op.create_table(
        'audit_event_child',
        sa.Column('event_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('child_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('event_id', 'child_id', name=op.f('pk_audit_event_child')),
    )
    op.create_index('ix_audit_event_child_child', 'audit_event_child', ['child_id', 'event_id'])
    _append_only('audit_event_child')

    _head_may_stay("NEW.tree_size < OLD.tree_size")

    with op.batch_alter_table('audit_verification') as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=12), nullable=False, server_default='full'))
        batch_op.add_column(sa.Column('status', sa.String(length=10), nullable=False, server_default='done'))
        batch_op.add_column(sa.Column('checked', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('total', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('root_hash', sa.LargeBinary(length=32), nullable=True))
        batch_op.alter_column('ok', existing_type=sa.Boolean(), nullable=True)


def downgrade() -> None:
    """Back to sequence-number keys. Integrate first (`flask audit integrate`): a pending entry
    has no place in the old table, so this refuses while any is left."""
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM audit_event WHERE seq IS NULL")).scalar():
        raise RuntimeError("pending audit entries: run `flask audit integrate` before downgrading")
    with op.batch_alter_table('audit_verification') as batch_op:
        batch_op.drop_column('root_hash')
        batch_op.drop_column('finished_at')
        batch_op.drop_column('total')
        batch_op.drop_column('checked')
        batch_op.drop_column('status')
        batch_op.drop_column('kind')
    _head_may_stay("NEW.tree_size <= OLD.tree_size")
    op.drop_table('audit_event_child')
    op.execute("CREATE TABLE audit_event_copy AS SELECT * FROM audit_event")
    op.drop_table('audit_event')
    if _postgres():
        op.execute("DROP FUNCTION IF EXISTS audit_event_integrates_once()")
    op.create_table(
        'audit_event',
        sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
        *[sa.Column(c, t, nullable=n) for c, t, n in (
            ('occurred_at', sa.DateTime(timezone=True), False), ('outcome', sa.String(10), False),
            ('actor_user_id', sa.Integer(), True), ('actor_org_id', sa.Integer(), True),
            ('actor_roles', sa.String(200), True), ('auth_method', sa.String(30), True),
            ('action', sa.String(40), False), ('object_type', sa.String(40), True),
            ('object_id', sa.String(64), True), ('child_id', sa.Integer(), True),
            ('access_basis', sa.String(100), True), ('purpose', sa.String(200), True),
            ('legal_basis', sa.String(200), True), ('request_id', sa.String(64), True),
            ('client_address', sa.String(64), True), ('user_agent', sa.String(300), True),
            ('detail', sa.Text(), True), ('leaf', sa.LargeBinary(), False), ('leaf_hash', sa.LargeBinary(32), False))],
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_event')),
    )
    op.execute(f"INSERT INTO audit_event ({', '.join(COPIED)}) SELECT {', '.join(COPIED)} FROM audit_event_copy")
    op.drop_table('audit_event_copy')
    op.create_index(op.f('ix_audit_event_action'), 'audit_event', ['action'])
    op.create_index('ix_audit_event_child_seq', 'audit_event', ['child_id', 'seq'])
    op.create_index('ix_audit_event_org_seq', 'audit_event', ['actor_org_id', 'seq'])
    op.create_index('ix_audit_event_time', 'audit_event', ['occurred_at'])
    op.create_index('ix_audit_event_user_seq', 'audit_event', ['actor_user_id', 'seq'])
    _append_only('audit_event')
