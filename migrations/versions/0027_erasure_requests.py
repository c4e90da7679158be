"""erasure requests (issue 23): a request about a child, each agency's decision per record class;
police shares reclassed

`erasure_request`: one UK GDPR Art 17 request about one child, received by one organisation.
`erasure_decision`: one agency's decision (erase, or the exception that keeps them) for one class of
its records about the child, with its reason (encrypted).

Retention rows of a force's share records were classed `police_record`, the class of its missing
episodes, so a share and an episode with the same id collided (and destroying the share's row
would have destroyed the episode). They become `police_share`: a row is a share's when no episode
of that id belongs to its force and a share of that id was sent by it. (New record classes need no
schema change: the class column is a plain string.)

Revision ID: 0027_erasure
Revises: 0026_shred_keys
"""
import sqlalchemy as sa
from alembic import op


revision = '0027_erasure'
down_revision = '0026_shred_keys'
branch_labels = None
depends_on = None

RECORD_CLASSES = ('looked_after_case_record', 'social_care_record', 'school_child_protection', 'health_record',
                  'police_record', 'police_share', 'partner_record', 'mace_intelligence', 'consent_record',
                  'mace_minutes', 'mace_agenda_item', 'mace_action', 'mace_outcome', 'philomena_profile',
                  'outbox_email', 'sign_in_attempt', 'user_session', 'import_file')


def upgrade() -> None:
    op.create_table('erasure_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('requester', sa.Text(), nullable=False),
    sa.Column('request_text', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'answered', name='requeststatus', native_enum=False, length=10), nullable=False),
    sa.Column('recorded_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_by_user_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['answered_by_user_id'], ['user_account.id'], name=op.f('fk_erasure_request_answered_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_erasure_request_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['recorded_by_user_id'], ['user_account.id'], name=op.f('fk_erasure_request_recorded_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasure_request'))
    )
    with op.batch_alter_table('erasure_request', schema=None) as batch_op:
        batch_op.create_index('ix_erasure_request_child', ['child_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_erasure_request_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('erasure_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('record_class', sa.Enum(*RECORD_CLASSES, name='recordclass', native_enum=False, length=40), nullable=False),
    sa.Column('outcome', sa.Enum('erase', 'keep_legal_obligation', 'keep_legal_claims', 'keep_law_enforcement', name='outcome', native_enum=False, length=30), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['user_account.id'], name=op.f('fk_erasure_decision_decided_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_erasure_decision_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['request_id'], ['erasure_request.id'], name=op.f('fk_erasure_decision_request_id_erasure_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasure_decision')),
    sa.UniqueConstraint('request_id', 'organisation_id', 'record_class', name=op.f('uq_erasure_decision_request_id_organisation_id_record_class'))
    )
    with op.batch_alter_table('erasure_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_erasure_decision_request_id'), ['request_id'], unique=False)

    op.execute(sa.text("""
        UPDATE retention_record SET record_class = 'police_share'
        WHERE record_class = 'police_record'
          AND NOT EXISTS (SELECT 1 FROM missing_episode e
                          WHERE e.id = retention_record.record_id AND e.police_org_id = retention_record.owning_org_id)
          AND EXISTS (SELECT 1 FROM share_record s
                      WHERE s.id = retention_record.record_id AND s.sender_org_id = retention_record.owning_org_id
                        AND s.mace_group_id IS NULL)"""))


def downgrade() -> None:
    # Back to one class, except where a share's row would now collide with an episode's (the
    # ambiguity this migration removed): those stay police_share.
    op.execute(sa.text("""
        UPDATE retention_record SET record_class = 'police_record'
        WHERE record_class = 'police_share'
          AND NOT EXISTS (SELECT 1 FROM retention_record other
                          WHERE other.record_class = 'police_record' AND other.record_id = retention_record.record_id)"""))
    with op.batch_alter_table('erasure_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erasure_decision_request_id'))

    op.drop_table('erasure_decision')
    with op.batch_alter_table('erasure_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erasure_request_organisation_id'))
        batch_op.drop_index('ix_erasure_request_child')

    op.drop_table('erasure_request')
