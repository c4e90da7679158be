"""the organisations that have held a child through its shares and episodes (issue 22)

`child_holder` (organisation_id, child_id): an organisation that sent or received a share about the
child, or policed or was home or receiving authority for one of the child's missing episodes. It
bounds an organisation's reach by the children it has held instead of its shares and episodes
(`hub.permissions.children`); the relationships themselves still decide. Filled here from the
shares and episodes already stored.

Revision ID: 0030_child_holders
Revises: 0029_initpw_initial_passwords
"""
import sqlalchemy as sa
from alembic import op

revision = '0030_child_holders'
down_revision = '0029_initpw_initial_passwords'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('child_holder',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_child_holder_child_id_child'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_child_holder_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('organisation_id', 'child_id', name=op.f('pk_child_holder'))
    )
    with op.batch_alter_table('child_holder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_child_holder_child_id'), ['child_id'], unique=False)
    op.execute(sa.text("""
        INSERT INTO child_holder (organisation_id, child_id)
        SELECT organisation_id, child_id FROM (
            SELECT sender_org_id AS organisation_id, child_id FROM share_record
            UNION SELECT r.organisation_id, s.child_id FROM share_recipient r JOIN share_record s ON s.id = r.share_id
            UNION SELECT police_org_id, child_id FROM missing_episode
            UNION SELECT home_authority_id, child_id FROM missing_episode WHERE home_authority_id IS NOT NULL
            UNION SELECT receiving_authority_id, child_id FROM missing_episode WHERE receiving_authority_id IS NOT NULL
        ) AS held"""))


def downgrade() -> None:
    op.drop_table('child_holder')
