"""MACE groups, members, meetings, subjects, intelligence, actions, outcomes

Revision ID: 0010
Revises: 0009

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mace_location',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.Enum('park', 'takeaway', 'shop', 'house', 'hotel', 'transport', 'online', 'other', name='locationkind', native_enum=False, length=20), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('postcode', sa.Text(), nullable=True),
    sa.Column('grid_reference', sa.Text(), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_mace_location_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['group_id'], ['mace_group.id'], name=op.f('fk_mace_location_group_id_mace_group'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_location'))
    )
    with op.batch_alter_table('mace_location', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mace_location_group_id'), ['group_id'], unique=False)

    op.create_table('mace_meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('venue', sa.String(length=200), nullable=True),
    sa.Column('status', sa.Enum('scheduled', 'held', name='meetingstatus', native_enum=False, length=10), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('next_meeting_on', sa.Date(), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_mace_meeting_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['group_id'], ['mace_group.id'], name=op.f('fk_mace_meeting_group_id_mace_group'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_meeting'))
    )
    with op.batch_alter_table('mace_meeting', schema=None) as batch_op:
        batch_op.create_index('ix_mace_meeting_group_when', ['group_id', 'scheduled_for'], unique=False)

    op.create_table('mace_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('chair', 'co_chair', 'member', name='memberrole', native_enum=False, length=10), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('added_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('end_date IS NULL OR end_date >= start_date', name=op.f('ck_mace_member_dates_in_order')),
    sa.ForeignKeyConstraint(['added_by_user_id'], ['user_account.id'], name=op.f('fk_mace_member_added_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['group_id'], ['mace_group.id'], name=op.f('fk_mace_member_group_id_mace_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_mace_member_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_mace_member_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_member'))
    )
    with op.batch_alter_table('mace_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mace_member_group_id'), ['group_id'], unique=False)
        batch_op.create_index('ix_mace_member_user', ['user_id', 'group_id'], unique=False)

    op.create_table('mace_person',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('person', 'peer_group', name='personkind', native_enum=False, length=12), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('aliases', sa.Text(), nullable=True),
    sa.Column('vehicles', sa.Text(), nullable=True),
    sa.Column('phone_numbers', sa.Text(), nullable=True),
    sa.Column('online_handles', sa.Text(), nullable=True),
    sa.Column('article_10', sa.String(length=20), nullable=True),
    sa.Column('part_3', sa.String(length=20), nullable=True),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('review_on', sa.Date(), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_mace_person_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['group_id'], ['mace_group.id'], name=op.f('fk_mace_person_group_id_mace_group'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_person'))
    )
    with op.batch_alter_table('mace_person', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mace_person_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mace_person_review_on'), ['review_on'], unique=False)

    op.create_table('mace_agenda_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('minutes', sa.Text(), nullable=True),
    sa.Column('decisions', sa.Text(), nullable=True),
    sa.Column('risk_level', sa.String(length=60), nullable=True),
    sa.Column('risk_review_on', sa.Date(), nullable=True),
    sa.Column('added_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(CASE WHEN child_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN location_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN person_id IS NULL THEN 0 ELSE 1 END) = 1', name=op.f('ck_mace_agenda_item_one_subject')),
    sa.ForeignKeyConstraint(['added_by_user_id'], ['user_account.id'], name=op.f('fk_mace_agenda_item_added_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_mace_agenda_item_child_id_child')),
    sa.ForeignKeyConstraint(['location_id'], ['mace_location.id'], name=op.f('fk_mace_agenda_item_location_id_mace_location')),
    sa.ForeignKeyConstraint(['meeting_id'], ['mace_meeting.id'], name=op.f('fk_mace_agenda_item_meeting_id_mace_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['mace_person.id'], name=op.f('fk_mace_agenda_item_person_id_mace_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_agenda_item'))
    )
    with op.batch_alter_table('mace_agenda_item', schema=None) as batch_op:
        batch_op.create_index('ix_mace_agenda_item_child', ['child_id'], unique=False)
        batch_op.create_index('ix_mace_agenda_item_meeting', ['meeting_id', 'position'], unique=False)

    op.create_table('mace_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('attendance', sa.Enum('present', 'apologies', 'absent', name='attendance', native_enum=False, length=10), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['mace_meeting.id'], name=op.f('fk_mace_attendance_meeting_id_mace_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_mace_attendance_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_mace_attendance_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_attendance')),
    sa.UniqueConstraint('meeting_id', 'user_id', name=op.f('uq_mace_attendance_meeting_id_user_id'))
    )
    with op.batch_alter_table('mace_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mace_attendance_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('mace_outcome',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('system_name', sa.String(length=100), nullable=True),
    sa.Column('system_reference', sa.Text(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_mace_outcome_child_id_child')),
    sa.ForeignKeyConstraint(['confirmed_by_user_id'], ['user_account.id'], name=op.f('fk_mace_outcome_confirmed_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['meeting_id'], ['mace_meeting.id'], name=op.f('fk_mace_outcome_meeting_id_mace_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_mace_outcome_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_outcome')),
    sa.UniqueConstraint('meeting_id', 'organisation_id', 'child_id', name=op.f('uq_mace_outcome_meeting_id_organisation_id_child_id'))
    )
    with op.batch_alter_table('mace_outcome', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mace_outcome_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index('ix_mace_outcome_org_confirmed', ['organisation_id', 'confirmed_at'], unique=False)

    op.create_table('mace_proposal_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('proposal_key', sa.String(length=200), nullable=False),
    sa.Column('decision', sa.Enum('accepted', 'dismissed', name='proposaldecision', native_enum=False, length=10), nullable=False),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['user_account.id'], name=op.f('fk_mace_proposal_decision_decided_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['group_id'], ['mace_group.id'], name=op.f('fk_mace_proposal_decision_group_id_mace_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['mace_meeting.id'], name=op.f('fk_mace_proposal_decision_meeting_id_mace_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_proposal_decision')),
    sa.UniqueConstraint('group_id', 'proposal_key', name=op.f('uq_mace_proposal_decision_group_id_proposal_key'))
    )
    op.create_table('mace_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('task', 'disruption', name='actionkind', native_enum=False, length=12), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_organisation_id', sa.Integer(), nullable=False),
    sa.Column('owner_user_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('open', 'in_progress', 'done', 'cancelled', name='actionstatus', native_enum=False, length=12), nullable=False),
    sa.Column('disruption_kind', sa.Enum('cawn', 'other', name='disruptionkind', native_enum=False, length=10), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('child_id', sa.Integer(), nullable=True),
    sa.Column('served_on', sa.Date(), nullable=True),
    sa.Column('serving_officer', sa.Text(), nullable=True),
    sa.Column('review_on', sa.Date(), nullable=True),
    sa.Column('breaches', sa.Integer(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_mace_action_child_id_child')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_mace_action_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['group_id'], ['mace_group.id'], name=op.f('fk_mace_action_group_id_mace_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['mace_agenda_item.id'], name=op.f('fk_mace_action_item_id_mace_agenda_item')),
    sa.ForeignKeyConstraint(['meeting_id'], ['mace_meeting.id'], name=op.f('fk_mace_action_meeting_id_mace_meeting')),
    sa.ForeignKeyConstraint(['owner_organisation_id'], ['organisation.id'], name=op.f('fk_mace_action_owner_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['owner_user_id'], ['user_account.id'], name=op.f('fk_mace_action_owner_user_id_user_account')),
    sa.ForeignKeyConstraint(['person_id'], ['mace_person.id'], name=op.f('fk_mace_action_person_id_mace_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_action'))
    )
    with op.batch_alter_table('mace_action', schema=None) as batch_op:
        batch_op.create_index('ix_mace_action_group_status_due', ['group_id', 'status', 'due_on'], unique=False)
        batch_op.create_index('ix_mace_action_meeting', ['meeting_id'], unique=False)
        batch_op.create_index('ix_mace_action_owner', ['owner_user_id', 'status'], unique=False)

    op.create_table('mace_agency_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['mace_agenda_item.id'], name=op.f('fk_mace_agency_update_item_id_mace_agenda_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_mace_agency_update_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_mace_agency_update_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_agency_update'))
    )
    with op.batch_alter_table('mace_agency_update', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mace_agency_update_item_id'), ['item_id'], unique=False)

    op.create_table('mace_intelligence_subject',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('share_id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(CASE WHEN child_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN location_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN person_id IS NULL THEN 0 ELSE 1 END) = 1', name=op.f('ck_mace_intelligence_subject_one_subject')),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_mace_intelligence_subject_child_id_child')),
    sa.ForeignKeyConstraint(['location_id'], ['mace_location.id'], name=op.f('fk_mace_intelligence_subject_location_id_mace_location')),
    sa.ForeignKeyConstraint(['person_id'], ['mace_person.id'], name=op.f('fk_mace_intelligence_subject_person_id_mace_person')),
    sa.ForeignKeyConstraint(['share_id'], ['share_record.id'], name=op.f('fk_mace_intelligence_subject_share_id_share_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_intelligence_subject'))
    )
    with op.batch_alter_table('mace_intelligence_subject', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mace_intelligence_subject_child_id'), ['child_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mace_intelligence_subject_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mace_intelligence_subject_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_mace_intelligence_subject_share', ['share_id'], unique=False)

    op.create_table('mace_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('seen_on', sa.Date(), nullable=False),
    sa.Column('share_id', sa.Integer(), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(CASE WHEN child_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN location_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN person_id IS NULL THEN 0 ELSE 1 END) = 2', name=op.f('ck_mace_link_two_ends')),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_mace_link_child_id_child')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_mace_link_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['group_id'], ['mace_group.id'], name=op.f('fk_mace_link_group_id_mace_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['mace_location.id'], name=op.f('fk_mace_link_location_id_mace_location')),
    sa.ForeignKeyConstraint(['person_id'], ['mace_person.id'], name=op.f('fk_mace_link_person_id_mace_person')),
    sa.ForeignKeyConstraint(['share_id'], ['share_record.id'], name=op.f('fk_mace_link_share_id_share_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_link'))
    )
    with op.batch_alter_table('mace_link', schema=None) as batch_op:
        batch_op.create_index('ix_mace_link_child', ['child_id'], unique=False)
        batch_op.create_index('ix_mace_link_group', ['group_id'], unique=False)
        batch_op.create_index('ix_mace_link_location', ['location_id'], unique=False)
        batch_op.create_index('ix_mace_link_person', ['person_id'], unique=False)

    op.create_table('mace_action_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'in_progress', 'done', 'cancelled', name='actionstatus', native_enum=False, length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('breach', sa.Boolean(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['mace_action.id'], name=op.f('fk_mace_action_update_action_id_mace_action'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_mace_action_update_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_action_update'))
    )
    with op.batch_alter_table('mace_action_update', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mace_action_update_action_id'), ['action_id'], unique=False)

    with op.batch_alter_table('mace_agenda_child', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk_level', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('risk_set_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('risk_review_due', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_mace_agenda_child_risk_review_due'), ['risk_review_due'], unique=False)

    with op.batch_alter_table('mace_group', schema=None) as batch_op:
        batch_op.add_column(sa.Column('area_authority_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('risk_levels', sa.JSON(), nullable=False, server_default='["High", "Medium", "Low", "No current risk"]'))
        batch_op.add_column(sa.Column('review_interval_days', sa.Integer(), nullable=False, server_default='90'))
        batch_op.create_foreign_key(batch_op.f('fk_mace_group_area_authority_id_organisation'), 'organisation', ['area_authority_id'], ['id'])

    with op.batch_alter_table('share_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mace_group_id', sa.Integer(), nullable=True))
        batch_op.alter_column('child_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_share_record_mace_group_id'), ['mace_group_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_share_record_mace_group_id_mace_group'), 'mace_group', ['mace_group_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('share_record', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_share_record_mace_group_id_mace_group'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_share_record_mace_group_id'))
        batch_op.alter_column('child_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('mace_group_id')

    with op.batch_alter_table('mace_group', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_mace_group_area_authority_id_organisation'), type_='foreignkey')
        batch_op.drop_column('review_interval_days')
        batch_op.drop_column('risk_levels')
        batch_op.drop_column('area_authority_id')

    with op.batch_alter_table('mace_agenda_child', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mace_agenda_child_risk_review_due'))
        batch_op.drop_column('risk_review_due')
        batch_op.drop_column('risk_set_at')
        batch_op.drop_column('risk_level')

    with op.batch_alter_table('mace_action_update', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mace_action_update_action_id'))

    op.drop_table('mace_action_update')
    with op.batch_alter_table('mace_link', schema=None) as batch_op:
        batch_op.drop_index('ix_mace_link_person')
        batch_op.drop_index('ix_mace_link_location')
        batch_op.drop_index('ix_mace_link_group')
        batch_op.drop_index('ix_mace_link_child')

    op.drop_table('mace_link')
    with op.batch_alter_table('mace_intelligence_subject', schema=None) as batch_op:
        batch_op.drop_index('ix_mace_intelligence_subject_share')
        batch_op.drop_index(batch_op.f('ix_mace_intelligence_subject_person_id'))
        batch_op.drop_index(batch_op.f('ix_mace_intelligence_subject_location_id'))
        batch_op.drop_index(batch_op.f('ix_mace_intelligence_subject_child_id'))

    op.drop_table('mace_intelligence_subject')
    with op.batch_alter_table('mace_agency_update', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mace_agency_update_item_id'))

    op.drop_table('mace_agency_update')
    with op.batch_alter_table('mace_action', schema=None) as batch_op:
        batch_op.drop_index('ix_mace_action_owner')
        batch_op.drop_index('ix_mace_action_meeting')
        batch_op.drop_index('ix_mace_action_group_status_due')

    op.drop_table('mace_action')
    op.drop_table('mace_proposal_decision')
    with op.batch_alter_table('mace_outcome', schema=None) as batch_op:
        batch_op.drop_index('ix_mace_outcome_org_confirmed')
        batch_op.drop_index(batch_op.f('ix_mace_outcome_meeting_id'))

    op.drop_table('mace_outcome')
    with op.batch_alter_table('mace_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mace_attendance_meeting_id'))

    op.drop_table('mace_attendance')
    with op.batch_alter_table('mace_agenda_item', schema=None) as batch_op:
        batch_op.drop_index('ix_mace_agenda_item_meeting')
        batch_op.drop_index('ix_mace_agenda_item_child')

    op.drop_table('mace_agenda_item')
    with op.batch_alter_table('mace_person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mace_person_review_on'))
        batch_op.drop_index(batch_op.f('ix_mace_person_group_id'))

    op.drop_table('mace_person')
    with op.batch_alter_table('mace_member', schema=None) as batch_op:
        batch_op.drop_index('ix_mace_member_user')
        batch_op.drop_index(batch_op.f('ix_mace_member_group_id'))

    op.drop_table('mace_member')
    with op.batch_alter_table('mace_meeting', schema=None) as batch_op:
        batch_op.drop_index('ix_mace_meeting_group_when')

    op.drop_table('mace_meeting')
    with op.batch_alter_table('mace_location', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mace_location_group_id'))

    op.drop_table('mace_location')
