"""share_draft: a share written one question page at a time, kept encrypted until confirmed

Revision ID: 0014
Revises: 0013

"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('share_draft',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_share_draft_child_id_child')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_share_draft_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_draft'))
    )
    with op.batch_alter_table('share_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_share_draft_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('share_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_share_draft_user_id'))
    op.drop_table('share_draft')
