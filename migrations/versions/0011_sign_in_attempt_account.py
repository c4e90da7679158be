"""failed sign-ins counted per (account, address): sign_in_attempt.account_key

Revision ID: 0011
Revises: 0010

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_key', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_sign_in_attempt_account_key'), ['account_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_attempt_account_key'))
        batch_op.drop_column('account_key')
