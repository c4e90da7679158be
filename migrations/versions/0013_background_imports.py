"""police download imported in the background: import_batch claims, import_file (the queued file)

Revision ID: 0013
Revises: 0012

"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The status column is a VARCHAR(10) without a CHECK constraint: 'queued' needs no change.
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_import_batch_status'), ['status'], unique=False)
    op.create_table('import_file',
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], name=op.f('fk_import_file_batch_id_import_batch')),
    sa.PrimaryKeyConstraint('batch_id', name=op.f('pk_import_file'))
    )


def downgrade() -> None:
    op.drop_table('import_file')
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_batch_status'))
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
