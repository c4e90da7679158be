"""a share is corrected at most once: unique index on share_record.supersedes_id

Revision ID: 0009
Revises: 0008

"""
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULLs never collide (SQLite and PostgreSQL alike): only real corrections are constrained.
    with op.batch_alter_table('share_record', schema=None) as batch_op:
        batch_op.create_index('uq_share_record_supersedes_id', ['supersedes_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('share_record', schema=None) as batch_op:
        batch_op.drop_index('uq_share_record_supersedes_id')
