"""erasure requests about a MACE person of concern (issue 23, second part)

`erasure_request` is about a child or (new) a MACE person of concern: `child_id` becomes optional,
`person_id` and the person's `mace_group_id` are added (no foreign keys: the request outlives the
person's record), and exactly one of child and person is set. The person's record gets a retention
row (class `mace_person`, a plain string: no schema change) when a request about them is recorded.

Revision ID: 0028_erasure2_person
Revises: 0027_erasure
"""
import sqlalchemy as sa
from alembic import op


revision = '0028_erasure2_person'
down_revision = '0027_erasure'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('erasure_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('mace_group_id', sa.Integer(), nullable=True))
        batch_op.alter_column('child_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index('ix_erasure_request_person', ['person_id'], unique=False)
        batch_op.create_check_constraint(op.f('ck_erasure_request_one_subject'),
                                         '(child_id IS NULL) <> (person_id IS NULL)')


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM erasure_decision WHERE request_id IN "
                       "(SELECT id FROM erasure_request WHERE person_id IS NOT NULL)"))
    op.execute(sa.text("DELETE FROM erasure_request WHERE person_id IS NOT NULL"))
    with op.batch_alter_table('erasure_request', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_erasure_request_one_subject'), type_='check')
        batch_op.drop_index('ix_erasure_request_person')
        batch_op.alter_column('child_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('mace_group_id')
        batch_op.drop_column('person_id')
