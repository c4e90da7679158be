"""a share's purpose encrypted at rest; an emergency access grant's category

`share_record.purpose` is the sender's own words about why they shared ("to protect her from the
man at the takeaway"): it was kept in clear beside the encrypted summary and content. It becomes a
Fernet token like them, every existing row encrypted with the hub's current field key (needs the
keys, as 0015 and 0017 do). SQLite cannot change a column's type in place, and rebuilding
`share_record` would trip the foreign keys of every table that points at it, so the new column is
added, filled, and put in the old one's place (DROP and RENAME COLUMN, SQLite 3.35+), the same
steps on both databases.

`break_glass_grant.category`: what kind of emergency, from a short list, so the audit event can
name it instead of the typed reason (which stays encrypted on the grant). Grants made before have
only their reason: they are `other`.

Downgrade decrypts the purposes back into a column of 300 characters and drops the category.

Revision ID: 0019
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0017'
branch_labels = None
depends_on = None


def _replace_purpose(column_type: sa.types.TypeEngine, convert) -> None:
    """Put a new `purpose` of `column_type` in place of the old one, each value `convert`ed."""
    bind = op.get_bind()
    # NOT NULL needs a default on SQLite's ADD COLUMN; every row is written just below.
    op.add_column('share_record', sa.Column('purpose_new', column_type, nullable=False, server_default=''))
    rows = bind.execute(sa.text("SELECT id, purpose FROM share_record")).all()
    if rows:
        share = sa.table('share_record', sa.column('id', sa.Integer), sa.column('purpose_new', column_type))
        change = share.update().where(share.c.id == sa.bindparam('share')).values(purpose_new=sa.bindparam('value'))
        bind.execute(change, [{"share": share_id, "value": convert(value or "")} for share_id, value in rows])
    op.execute("ALTER TABLE share_record DROP COLUMN purpose")
    op.execute("ALTER TABLE share_record RENAME COLUMN purpose_new TO purpose")
    if bind.dialect.name == "postgresql":  # SQLite cannot drop a default in place; no row relies on it
        op.execute("ALTER TABLE share_record ALTER COLUMN purpose DROP DEFAULT")


def upgrade() -> None:
    from hub import crypto

    _replace_purpose(sa.Text(), crypto.encrypt)
    op.add_column('break_glass_grant', sa.Column('category', sa.String(length=30), nullable=False,
                                                 server_default='other'))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE break_glass_grant ALTER COLUMN category DROP DEFAULT")


def downgrade() -> None:
    from hub import crypto

    op.execute("ALTER TABLE break_glass_grant DROP COLUMN category")
    _replace_purpose(sa.String(length=300), lambda token: crypto.decrypt(token)[:300] if token else "")
