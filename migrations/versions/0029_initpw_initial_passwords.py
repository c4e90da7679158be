"""initial passwords the hub issues (ASVS V6.4.1)

`user_account.initial_password_expires_at`: set when the hub generates a password for someone (an
account an administrator creates, or a forgotten password reset); until then that password signs
them in only to choose their own, and from then it is refused. NULL for every existing account:
the passwords set so far (by the operator, or typed by an administrator) are treated as their own.

Revision ID: 0029_initpw_initial_passwords
Revises: 0028_erasure2_person
"""
import sqlalchemy as sa
from alembic import op

revision = '0029_initpw_initial_passwords'
down_revision = '0028_erasure2_person'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('initial_password_expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Not in batch mode: on SQLite a batch rebuilds the table (copy, drop, rename), and dropping
    # user_account fails its foreign keys once anything refers to a user. SQLite 3.35+ drops a
    # plain column in place, as PostgreSQL does.
    op.drop_column('user_account', 'initial_password_expires_at')
