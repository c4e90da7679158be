"""retention (issue 23, first slice): schedules, each record's review date, legal holds

`retention_setting`: an agency's own period for a record class (the defaults are in
hub/retention/rules.py). `retention_record`: one row per record under retention (its class, owner,
rule, review date and the decision about it); it stays after the record is destroyed. `legal_hold`:
what stops destruction. Records written before this migration get their review dates from
`flask --app hub retention schedule-existing` (it needs the field keys to read dates of birth).

Revision ID: 0024_retention
Revises: 0023_risk_level_review
"""
import sqlalchemy as sa
from alembic import op


revision = '0024_retention'
down_revision = '0023_risk_level_review'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('legal_hold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('inquiry', 'litigation', 'subject_access', 'restriction', name='holdkind', native_enum=False, length=20), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=True),
    sa.Column('record_class', sa.Enum('looked_after_case_record', 'social_care_record', 'school_child_protection', 'health_record', 'police_record', 'partner_record', 'mace_intelligence', 'outbox_email', name='recordclass', native_enum=False, length=40), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('set_by_user_id', sa.Integer(), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lifted_by_user_id', sa.Integer(), nullable=True),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lift_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['lifted_by_user_id'], ['user_account.id'], name=op.f('fk_legal_hold_lifted_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_legal_hold_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['set_by_user_id'], ['user_account.id'], name=op.f('fk_legal_hold_set_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_hold'))
    )
    with op.batch_alter_table('legal_hold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_hold_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('retention_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_class', sa.Enum('looked_after_case_record', 'social_care_record', 'school_child_protection', 'health_record', 'police_record', 'partner_record', 'mace_intelligence', 'outbox_email', name='recordclass', native_enum=False, length=40), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('owning_org_id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=True),
    sa.Column('written_on', sa.Date(), nullable=False),
    sa.Column('rule', sa.String(length=120), nullable=False),
    sa.Column('review_on', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('scheduled', 'kept', 'approved', 'destroyed', name='retentionstatus', native_enum=False, length=20), nullable=False),
    sa.Column('keep_reason', sa.Text(), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['user_account.id'], name=op.f('fk_retention_record_decided_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['owning_org_id'], ['organisation.id'], name=op.f('fk_retention_record_owning_org_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_record')),
    sa.UniqueConstraint('record_class', 'record_id', name=op.f('uq_retention_record_record_class_record_id'))
    )
    with op.batch_alter_table('retention_record', schema=None) as batch_op:
        batch_op.create_index('ix_retention_record_child', ['child_id'], unique=False)
        batch_op.create_index('ix_retention_record_queue', ['owning_org_id', 'review_on'], unique=False, sqlite_where=sa.text("status <> 'destroyed'"), postgresql_where=sa.text("status <> 'destroyed'"))

    op.create_table('retention_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('record_class', sa.Enum('looked_after_case_record', 'social_care_record', 'school_child_protection', 'health_record', 'police_record', 'partner_record', 'mace_intelligence', 'outbox_email', name='recordclass', native_enum=False, length=40), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changed_by_user_id', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['changed_by_user_id'], ['user_account.id'], name=op.f('fk_retention_setting_changed_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_retention_setting_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_setting')),
    sa.UniqueConstraint('organisation_id', 'record_class', name=op.f('uq_retention_setting_organisation_id_record_class'))
    )


def downgrade() -> None:
    op.drop_table('retention_setting')
    with op.batch_alter_table('retention_record', schema=None) as batch_op:
        batch_op.drop_index('ix_retention_record_queue', sqlite_where=sa.text("status <> 'destroyed'"), postgresql_where=sa.text("status <> 'destroyed'"))
        batch_op.drop_index('ix_retention_record_child')

    op.drop_table('retention_record')
    with op.batch_alter_table('legal_hold', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_hold_organisation_id'))

    op.drop_table('legal_hold')
