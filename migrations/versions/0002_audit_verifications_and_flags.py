"""audit verifications and flags

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 23:23:21.932408
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_seq', sa.BigInteger(), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor_org_id', sa.Integer(), nullable=True),
    sa.Column('child_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('closed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_flag')),
    sa.UniqueConstraint('kind', 'event_seq', name=op.f('uq_audit_flag_kind_event_seq'))
    )
    with op.batch_alter_table('audit_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_flag_actor_org_id'), ['actor_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_flag_actor_user_id'), ['actor_user_id'], unique=False)
        batch_op.create_index('ix_audit_flag_status_kind', ['status', 'kind'], unique=False)

    op.create_table('audit_verification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('heads_checked', sa.Integer(), nullable=False),
    sa.Column('first_bad_entry', sa.BigInteger(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_verification'))
    )


def downgrade() -> None:
    op.drop_table('audit_verification')
    with op.batch_alter_table('audit_flag', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_flag_status_kind')
        batch_op.drop_index(batch_op.f('ix_audit_flag_actor_user_id'))
        batch_op.drop_index(batch_op.f('ix_audit_flag_actor_org_id'))

    op.drop_table('audit_flag')
