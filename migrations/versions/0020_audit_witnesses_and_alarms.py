"""audit log: witnesses' cosignatures, their state, alarms; triggers that allow only the next number

`audit_cosignature` keeps each witness's cosignature line on a signed tree head (append-only);
`audit_witness` what the hub last heard from each witness; `audit_alarm` the alarms the integrity
panel shows (and the hub's DPO is e-mailed).

The integration trigger of 0016 let a pending entry be "integrated" with any number (-1 passed,
and both checks scanned only seq >= 0), and nothing stopped a row from being inserted already
integrated. Now an entry may only be integrated as the next number of the log (one more than the
highest, and not below the head) with a 32-byte leaf hash (on PostgreSQL, the SHA-256 of 0x00 and
its leaf), and an INSERT must leave seq, leaf and leaf hash empty: only the integrator numbers.

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

#: Every column an integrator must leave as it found it (as in 0016).
FIXED = ("id", "occurred_at", "outcome", "actor_user_id", "actor_org_id", "actor_roles", "auth_method", "action",
         "object_type", "object_id", "child_id", "access_basis", "purpose", "legal_basis", "request_id",
         "client_address", "user_agent", "detail")
REFUSAL = "audit_event is append-only: an entry is only ever integrated, once, as the next number"
INSERT_REFUSAL = "audit_event takes pending entries only: the integrator numbers them"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _integration_trigger(next_number_only: bool) -> None:
    new = ", ".join(f"NEW.{c}" for c in FIXED)
    old = ", ".join(f"OLD.{c}" for c in FIXED)
    if _postgres():
        extra = ("OR NEW.seq <> (SELECT COALESCE(MAX(seq), -1) + 1 FROM audit_event) "
                 "OR NEW.seq < (SELECT tree_size FROM audit_head WHERE id = 1) "
                 "OR NEW.leaf_hash <> sha256('\\x00'::bytea || NEW.leaf)") if next_number_only else ""
        message = REFUSAL if next_number_only else "audit_event is append-only: an entry is only ever integrated, once"
        op.execute(f"""
            CREATE OR REPLACE FUNCTION audit_event_integrates_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP <> 'UPDATE' OR OLD.seq IS NOT NULL OR NEW.seq IS NULL OR NEW.leaf IS NULL
                 OR NEW.leaf_hash IS NULL OR ROW({new}) IS DISTINCT FROM ROW({old}) {extra} THEN
                RAISE EXCEPTION '{message}';
              END IF;
              RETURN NEW;
            END $$""")
        return
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FIXED)
    extra = ("OR NEW.seq <> (SELECT COALESCE(MAX(seq), -1) + 1 FROM audit_event) "
             "OR NEW.seq < (SELECT tree_size FROM audit_head WHERE id = 1) "
             "OR length(NEW.leaf_hash) <> 32 ") if next_number_only else ""
    message = REFUSAL if next_number_only else "audit_event is append-only: an entry is only ever integrated, once"
    op.execute("DROP TRIGGER audit_event_no_update")
    op.execute("CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
               "WHEN OLD.seq IS NOT NULL OR NEW.seq IS NULL OR NEW.leaf IS NULL OR NEW.leaf_hash IS NULL "
               f"OR {changed} {extra}"
               f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


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


def upgrade() -> None:
    op.create_table(
        'audit_cosignature',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tree_head_id', sa.Integer(), nullable=False),
        sa.Column('witness', sa.String(length=200), nullable=False),
        sa.Column('line', sa.Text(), nullable=False),
        sa.Column('cosigned_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tree_head_id'], ['audit_tree_head.id'],
                                name=op.f('fk_audit_cosignature_tree_head_id_audit_tree_head')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_cosignature')),
        sa.UniqueConstraint('tree_head_id', 'witness', name=op.f('uq_audit_cosignature_tree_head_id_witness')),
    )
    op.create_index(op.f('ix_audit_cosignature_tree_head_id'), 'audit_cosignature', ['tree_head_id'])
    _append_only('audit_cosignature')
    op.create_table(
        'audit_witness',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('cosigned_size', sa.BigInteger(), nullable=True),
        sa.Column('cosigned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_outcome', sa.String(length=20), nullable=True),
        sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('refusal', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_audit_witness')),
    )
    op.create_table(
        'audit_alarm',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_alarm')),
    )
    op.create_index('ix_audit_alarm_open', 'audit_alarm', ['kind', 'subject'], unique=True,
                    sqlite_where=sa.text('cleared_at IS NULL'), postgresql_where=sa.text('cleared_at IS NULL'))

    _integration_trigger(next_number_only=True)
    if _postgres():
        op.execute(f"""
            CREATE FUNCTION audit_event_pending_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.seq IS NOT NULL OR NEW.leaf IS NOT NULL OR NEW.leaf_hash IS NOT NULL THEN
                RAISE EXCEPTION '{INSERT_REFUSAL}';
              END IF;
              RETURN NEW;
            END $$""")
        op.execute("CREATE TRIGGER audit_event_pending_insert BEFORE INSERT ON audit_event "
                   "FOR EACH ROW EXECUTE FUNCTION audit_event_pending_only()")
    else:
        op.execute("CREATE TRIGGER audit_event_pending_insert BEFORE INSERT ON audit_event "
                   "WHEN NEW.seq IS NOT NULL OR NEW.leaf IS NOT NULL OR NEW.leaf_hash IS NOT NULL "
                   f"BEGIN SELECT RAISE(ABORT, '{INSERT_REFUSAL}'); END")


def downgrade() -> None:
    if _postgres():
        op.execute("DROP TRIGGER audit_event_pending_insert ON audit_event")
        op.execute("DROP FUNCTION audit_event_pending_only()")
    else:
        op.execute("DROP TRIGGER audit_event_pending_insert")
    _integration_trigger(next_number_only=False)
    op.drop_index('ix_audit_alarm_open', table_name='audit_alarm')
    op.drop_table('audit_alarm')
    op.drop_table('audit_witness')
    op.drop_index(op.f('ix_audit_cosignature_tree_head_id'), table_name='audit_cosignature')
    op.drop_table('audit_cosignature')
