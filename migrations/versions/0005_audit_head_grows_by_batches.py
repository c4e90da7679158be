"""audit head may grow by a batch: several events appended under one lock

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _replace(condition_sqlite: str, condition_pg: str, message: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION audit_head_grows() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP <> 'UPDATE' OR {condition_pg} OR NEW.id <> OLD.id THEN
                RAISE EXCEPTION '{message}';
              END IF;
              RETURN NEW;
            END $$""")
    else:
        op.execute("DROP TRIGGER audit_head_grows")
        op.execute("CREATE TRIGGER audit_head_grows BEFORE UPDATE ON audit_head "
                   f"WHEN {condition_sqlite} OR NEW.id <> OLD.id "
                   f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def upgrade() -> None:
    _replace("NEW.tree_size <= OLD.tree_size", "NEW.tree_size <= OLD.tree_size", "audit_head only grows")


def downgrade() -> None:
    _replace("NEW.tree_size <> OLD.tree_size + 1", "NEW.tree_size <> OLD.tree_size + 1", "audit_head only grows by one")
