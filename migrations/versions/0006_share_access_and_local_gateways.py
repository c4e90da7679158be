"""share access index (who may see which share, by time) and local gateways

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "share_access",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("share_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"],
                                name=op.f("fk_share_access_organisation_id_organisation")),
        sa.ForeignKeyConstraint(["share_id"], ["share_record.id"], name=op.f("fk_share_access_share_id_share_record")),
        sa.PrimaryKeyConstraint("organisation_id", "share_id", name=op.f("pk_share_access")),
    )
    op.create_index("ix_share_access_org_created", "share_access", ["organisation_id", "created_at", "share_id"])
    # Existing shares: the sender, and every recipient not revoked (decisions not to share: sender only).
    op.execute("INSERT INTO share_access (organisation_id, share_id, created_at) "
               "SELECT sender_org_id, id, created_at FROM share_record")
    op.execute("INSERT INTO share_access (organisation_id, share_id, created_at) "
               "SELECT DISTINCT r.organisation_id, s.id, s.created_at FROM share_recipient r "
               "JOIN share_record s ON s.id = r.share_id "
               "WHERE s.shared AND r.status <> 'revoked' AND r.organisation_id <> s.sender_org_id")
    op.create_table(
        "local_gateway",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("explanation", sa.String(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("added_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["added_by_user_id"], ["user_account.id"],
                                name=op.f("fk_local_gateway_added_by_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_local_gateway")),
        sa.UniqueConstraint("code", name="uq_local_gateway_code"),
    )


def downgrade() -> None:
    op.drop_table("local_gateway")
    op.drop_index("ix_share_access_org_created", table_name="share_access")
    op.drop_table("share_access")
