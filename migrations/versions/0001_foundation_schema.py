"""foundation schema: organisations, users, sessions, SSO, children, MACE groups, audit log.

The audit tables are append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on
PostgreSQL), and the tree-size row may only grow by one at a time.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 23:11:01.333810
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor_org_id', sa.Integer(), nullable=True),
    sa.Column('actor_roles', sa.String(length=200), nullable=True),
    sa.Column('auth_method', sa.String(length=30), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=True),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('child_id', sa.Integer(), nullable=True),
    sa.Column('access_basis', sa.String(length=100), nullable=True),
    sa.Column('purpose', sa.String(length=200), nullable=True),
    sa.Column('legal_basis', sa.String(length=200), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('client_address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=300), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('leaf', sa.LargeBinary(), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_action'), ['action'], unique=False)
        batch_op.create_index('ix_audit_event_child_seq', ['child_id', 'seq'], unique=False)
        batch_op.create_index('ix_audit_event_org_seq', ['actor_org_id', 'seq'], unique=False)
        batch_op.create_index('ix_audit_event_time', ['occurred_at'], unique=False)
        batch_op.create_index('ix_audit_event_user_seq', ['actor_user_id', 'seq'], unique=False)

    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('audit_node',
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_audit_node'))
    )
    op.create_table('audit_tree_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('timestamp', sa.String(length=40), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_tree_head'))
    )
    with op.batch_alter_table('audit_tree_head', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_tree_head_tree_size'), ['tree_size'], unique=False)

    op.create_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('police', 'childrens_social_care', 'school', 'health', 'la_education', 'mace_host', 'voluntary', name='orgkind', native_enum=False, length=40), nullable=False),
    sa.Column('identifier', sa.String(length=20), nullable=False),
    sa.Column('local_authority_id', sa.Integer(), nullable=True),
    sa.Column('school_day_start', sa.String(length=5), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['local_authority_id'], ['organisation.id'], name=op.f('fk_organisation_local_authority_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation')),
    sa.UniqueConstraint('code', name=op.f('uq_organisation_code')),
    sa.UniqueConstraint('kind', 'identifier', name=op.f('uq_organisation_kind_identifier'))
    )
    op.create_table('sign_in_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_attempt'))
    )
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_attempt_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_attempt_client_address'), ['client_address'], unique=False)

    op.create_table('child',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('given_name', sa.Text(), nullable=False),
    sa.Column('family_name', sa.Text(), nullable=False),
    sa.Column('date_of_birth', sa.Text(), nullable=False),
    sa.Column('dob_hash', sa.String(length=64), nullable=False),
    sa.Column('gender', sa.Enum('female', 'male', 'other', 'not_known', name='gender', native_enum=False, length=20), nullable=False),
    sa.Column('looked_after', sa.Boolean(), nullable=False),
    sa.Column('responsible_authority_id', sa.Integer(), nullable=True),
    sa.Column('placing_authority_id', sa.Integer(), nullable=True),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('review_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['placing_authority_id'], ['organisation.id'], name=op.f('fk_child_placing_authority_id_organisation')),
    sa.ForeignKeyConstraint(['responsible_authority_id'], ['organisation.id'], name=op.f('fk_child_responsible_authority_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_child'))
    )
    with op.batch_alter_table('child', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_child_dob_hash'), ['dob_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_child_placing_authority_id'), ['placing_authority_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_child_responsible_authority_id'), ['responsible_authority_id'], unique=False)

    op.create_table('mace_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('host_organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['host_organisation_id'], ['organisation.id'], name=op.f('fk_mace_group_host_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_group')),
    sa.UniqueConstraint('code', name=op.f('uq_mace_group_code'))
    )
    op.create_table('sso_provider',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('client_secret', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_sso_provider_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sso_provider')),
    sa.UniqueConstraint('organisation_id', name=op.f('uq_sso_provider_organisation_id'))
    )
    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('totp_secret', sa.Text(), nullable=True),
    sa.Column('totp_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('totp_last_step', sa.Integer(), nullable=False),
    sa.Column('failed_sign_ins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_user_account_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('email', name=op.f('uq_user_account_email'))
    )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_account_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('agency_involvement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_agency_involvement_child_id_child'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_agency_involvement_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_involvement'))
    )
    with op.batch_alter_table('agency_involvement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_involvement_child_id'), ['child_id'], unique=False)
        batch_op.create_index('ix_agency_involvement_org_child', ['organisation_id', 'child_id'], unique=False)

    op.create_table('child_identifier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('nhs_number', 'upn', 'la_id', 'police_id', name='identifierkind', native_enum=False, length=20), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('lookup_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_child_identifier_child_id_child'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_child_identifier')),
    sa.UniqueConstraint('child_id', 'kind', name=op.f('uq_child_identifier_child_id_kind')),
    sa.UniqueConstraint('kind', 'lookup_hash', name=op.f('uq_child_identifier_kind_lookup_hash'))
    )
    with op.batch_alter_table('child_identifier', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_child_identifier_child_id'), ['child_id'], unique=False)

    op.create_table('child_name_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_child_name_token_child_id_child'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_child_name_token'))
    )
    with op.batch_alter_table('child_name_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_child_name_token_child_id'), ['child_id'], unique=False)
        batch_op.create_index('ix_child_name_token_hash', ['token_hash', 'child_id'], unique=False)

    op.create_table('enrolment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_enrolment_child_id_child'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['school_id'], ['organisation.id'], name=op.f('fk_enrolment_school_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment'))
    )
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolment_child_id'), ['child_id'], unique=False)
        batch_op.create_index('ix_enrolment_school_current', ['school_id', 'end_date'], unique=False)

    op.create_table('mace_agenda_child',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], name=op.f('fk_mace_agenda_child_child_id_child'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['mace_group.id'], name=op.f('fk_mace_agenda_child_group_id_mace_group'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_agenda_child')),
    sa.UniqueConstraint('group_id', 'child_id', name=op.f('uq_mace_agenda_child_group_id_child_id'))
    )
    with op.batch_alter_table('mace_agenda_child', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mace_agenda_child_child_id'), ['child_id'], unique=False)

    op.create_table('mace_membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['mace_group.id'], name=op.f('fk_mace_membership_group_id_mace_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_mace_membership_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_membership')),
    sa.UniqueConstraint('group_id', 'organisation_id', name=op.f('uq_mace_membership_group_id_organisation_id'))
    )
    with op.batch_alter_table('mace_membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mace_membership_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=200), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_recovery_code_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_code'))
    )
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_code_user_id'), ['user_id'], unique=False)

    op.create_table('sso_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint('length(subject) > 0', name=op.f('ck_sso_identity_subject')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_sso_identity_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sso_identity')),
    sa.UniqueConstraint('issuer', 'subject', name=op.f('uq_sso_identity_issuer_subject'))
    )
    with op.batch_alter_table('sso_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sso_identity_user_id'), ['user_id'], unique=False)

    op.create_table('user_role',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('hub_admin', 'dsl', 'deputy_dsl', 'social_worker', 'police_officer', 'health_practitioner', 'mace_chair', 'mace_member', 'dpo', name='role', native_enum=False, length=40), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_user_role_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_role')),
    sa.UniqueConstraint('user_id', 'role', name=op.f('uq_user_role_user_id_role'))
    )
    with op.batch_alter_table('user_role', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_role_user_id'), ['user_id'], unique=False)

    op.create_table('user_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=30), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_user_session_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_session_token_hash'))
    )
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_session_user_id'), ['user_id'], unique=False)
    _append_only_triggers()
    op.execute("INSERT INTO audit_head (id, tree_size) VALUES (1, 0)")


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_session_user_id'))

    op.drop_table('user_session')
    with op.batch_alter_table('user_role', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_role_user_id'))

    op.drop_table('user_role')
    with op.batch_alter_table('sso_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sso_identity_user_id'))

    op.drop_table('sso_identity')
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_code_user_id'))

    op.drop_table('recovery_code')
    with op.batch_alter_table('mace_membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mace_membership_organisation_id'))

    op.drop_table('mace_membership')
    with op.batch_alter_table('mace_agenda_child', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mace_agenda_child_child_id'))

    op.drop_table('mace_agenda_child')
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.drop_index('ix_enrolment_school_current')
        batch_op.drop_index(batch_op.f('ix_enrolment_child_id'))

    op.drop_table('enrolment')
    with op.batch_alter_table('child_name_token', schema=None) as batch_op:
        batch_op.drop_index('ix_child_name_token_hash')
        batch_op.drop_index(batch_op.f('ix_child_name_token_child_id'))

    op.drop_table('child_name_token')
    with op.batch_alter_table('child_identifier', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_child_identifier_child_id'))

    op.drop_table('child_identifier')
    with op.batch_alter_table('agency_involvement', schema=None) as batch_op:
        batch_op.drop_index('ix_agency_involvement_org_child')
        batch_op.drop_index(batch_op.f('ix_agency_involvement_child_id'))

    op.drop_table('agency_involvement')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_account_organisation_id'))

    op.drop_table('user_account')
    op.drop_table('sso_provider')
    op.drop_table('mace_group')
    with op.batch_alter_table('child', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_child_responsible_authority_id'))
        batch_op.drop_index(batch_op.f('ix_child_placing_authority_id'))
        batch_op.drop_index(batch_op.f('ix_child_dob_hash'))

    op.drop_table('child')
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_attempt_client_address'))
        batch_op.drop_index(batch_op.f('ix_sign_in_attempt_at'))

    op.drop_table('sign_in_attempt')
    op.drop_table('organisation')
    with op.batch_alter_table('audit_tree_head', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_tree_head_tree_size'))

    op.drop_table('audit_tree_head')
    op.drop_table('audit_node')
    op.drop_table('audit_head')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_user_seq')
        batch_op.drop_index('ix_audit_event_time')
        batch_op.drop_index('ix_audit_event_org_seq')
        batch_op.drop_index('ix_audit_event_child_seq')
        batch_op.drop_index(batch_op.f('ix_audit_event_action'))

    op.drop_table('audit_event')


APPEND_ONLY = ("audit_event", "audit_node", "audit_tree_head")


def _append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$""")
        op.execute("""
            CREATE FUNCTION audit_head_grows() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP <> 'UPDATE' OR NEW.tree_size <> OLD.tree_size + 1 OR NEW.id <> OLD.id THEN
                RAISE EXCEPTION 'audit_head only grows by one';
              END IF;
              RETURN NEW;
            END $$""")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION audit_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()")
        op.execute("CREATE TRIGGER audit_head_grows BEFORE UPDATE OR DELETE ON audit_head "
                   "FOR EACH ROW EXECUTE FUNCTION audit_head_grows()")
    else:
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
        op.execute("CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
                   "BEGIN SELECT RAISE(ABORT, 'audit_head cannot be deleted'); END")
        op.execute("CREATE TRIGGER audit_head_grows BEFORE UPDATE ON audit_head "
                   "WHEN NEW.tree_size <> OLD.tree_size + 1 OR NEW.id <> OLD.id "
                   "BEGIN SELECT RAISE(ABORT, 'audit_head only grows by one'); END")


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS audit_head_grows ON audit_head")
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
        op.execute("DROP FUNCTION IF EXISTS audit_head_grows()")
