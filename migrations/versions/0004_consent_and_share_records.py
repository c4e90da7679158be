"""consent and share records

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 00:20:35.201883
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consent_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('given_by', sa.Enum('child', 'parental_responsibility', name='givenby', native_enum=False, length=30), nullable=False),
    sa.Column('giver_description', sa.Text(), nullable=False),
    sa.Column('child_competent', sa.Boolean(), nullable=True),
    sa.Column('competence_note', sa.Text(), nullable=True),
    sa.Column('given', sa.Boolean(), nullable=False),
    sa.Column('purposes', sa.String(length=300), nullable=False),
    sa.Column('obtained_on', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('recorded_by_user_id', sa.Integer(), nullable=False),
    sa.Column('recorded_by_org_id', sa.Integer(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_consent_record_child_id_child')),
    sa.ForeignKeyConstraint(['recorded_by_org_id'], ['organisation.id'], name=op.f('fk_consent_record_recorded_by_org_id_organisation')),
    sa.ForeignKeyConstraint(['recorded_by_user_id'], ['user_account.id'], name=op.f('fk_consent_record_recorded_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_record'))
    )
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_record_child_id'), ['child_id'], unique=False)

    op.create_table('consent_recipient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consent_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['consent_id'], ['consent_record.id'], name=op.f('fk_consent_recipient_consent_id_consent_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_consent_recipient_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_recipient'))
    )
    with op.batch_alter_table('consent_recipient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_recipient_consent_id'), ['consent_id'], unique=False)

    op.create_table('share_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('sender_org_id', sa.Integer(), nullable=False),
    sa.Column('sender_user_id', sa.Integer(), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('category', sa.Enum('missing_episode', 'return_interview', 'risk_assessment', 'school_concern', 'health_information', 'police_intelligence', 'exploitation_concern', 'other', name='category', native_enum=False, length=30), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('purpose', sa.String(length=300), nullable=False),
    sa.Column('special_category', sa.Boolean(), nullable=False),
    sa.Column('criminal_offence', sa.Boolean(), nullable=False),
    sa.Column('law_enforcement', sa.Boolean(), nullable=False),
    sa.Column('article_6', sa.String(length=20), nullable=True),
    sa.Column('article_9', sa.String(length=20), nullable=True),
    sa.Column('article_10', sa.String(length=20), nullable=True),
    sa.Column('part_3', sa.String(length=20), nullable=True),
    sa.Column('gateway', sa.String(length=40), nullable=True),
    sa.Column('source_kind', sa.Enum('organisation', 'role', 'third_party', name='sourcekind', native_enum=False, length=20), nullable=False),
    sa.Column('source_description', sa.Text(), nullable=False),
    sa.Column('obtained_how', sa.Enum('police_report', 'return_interview', 'observation', 'mace_meeting', 'health_contact', 'the_child', 'parent_or_carer', 'other', name='obtainedhow', native_enum=False, length=20), nullable=False),
    sa.Column('obtained_on', sa.Date(), nullable=False),
    sa.Column('evidence_reference', sa.String(length=100), nullable=True),
    sa.Column('source_evaluation', sa.String(length=1), nullable=True),
    sa.Column('intelligence_assessment', sa.String(length=1), nullable=True),
    sa.Column('handling_code', sa.String(length=1), nullable=True),
    sa.Column('consent_position', sa.Enum('consent', 'not_needed', 'refused_but_justified', name='consentposition', native_enum=False, length=30), nullable=True),
    sa.Column('consent_record_id', sa.Integer(), nullable=True),
    sa.Column('no_consent_reason', sa.Enum('significant_harm', 'would_place_at_risk', 'crime', 'legal_duty', 'other', name='noconsentreason', native_enum=False, length=30), nullable=True),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('authorised_by_user_id', sa.Integer(), nullable=True),
    sa.Column('family_told', sa.Boolean(), nullable=True),
    sa.Column('family_told_on', sa.Date(), nullable=True),
    sa.Column('family_not_told_reason', sa.Text(), nullable=True),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('supersede_reason', sa.Text(), nullable=True),
    sa.Column('origin_share_id', sa.Integer(), nullable=True),
    sa.Column('review_flagged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['authorised_by_user_id'], ['user_account.id'], name=op.f('fk_share_record_authorised_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_share_record_child_id_child')),
    sa.ForeignKeyConstraint(['consent_record_id'], ['consent_record.id'], name=op.f('fk_share_record_consent_record_id_consent_record')),
    sa.ForeignKeyConstraint(['origin_share_id'], ['share_record.id'], name=op.f('fk_share_record_origin_share_id_share_record')),
    sa.ForeignKeyConstraint(['sender_org_id'], ['organisation.id'], name=op.f('fk_share_record_sender_org_id_organisation')),
    sa.ForeignKeyConstraint(['sender_user_id'], ['user_account.id'], name=op.f('fk_share_record_sender_user_id_user_account')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['share_record.id'], name=op.f('fk_share_record_supersedes_id_share_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_record'))
    )
    with op.batch_alter_table('share_record', schema=None) as batch_op:
        batch_op.create_index('ix_share_record_child_created', ['child_id', 'created_at'], unique=False)
        batch_op.create_index('ix_share_record_sender_created', ['sender_org_id', 'created_at'], unique=False)

    op.create_table('share_recipient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('share_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('sent', 'accepted', 'declined', 'revoked', name='recipientstatus', native_enum=False, length=10), nullable=False),
    sa.Column('first_opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_share_recipient_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['share_id'], ['share_record.id'], name=op.f('fk_share_recipient_share_id_share_record')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_share_recipient_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_recipient'))
    )
    with op.batch_alter_table('share_recipient', schema=None) as batch_op:
        batch_op.create_index('ix_share_recipient_org_share', ['organisation_id', 'share_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_share_recipient_share_id'), ['share_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('share_recipient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_share_recipient_share_id'))
        batch_op.drop_index('ix_share_recipient_org_share')

    op.drop_table('share_recipient')
    with op.batch_alter_table('share_record', schema=None) as batch_op:
        batch_op.drop_index('ix_share_record_sender_created')
        batch_op.drop_index('ix_share_record_child_created')

    op.drop_table('share_record')
    with op.batch_alter_table('consent_recipient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_recipient_consent_id'))

    op.drop_table('consent_recipient')
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_record_child_id'))

    op.drop_table('consent_record')
