"""a MACE risk level carries its review date: CHECK on mace_agenda_item and mace_agenda_child

The service always set both together, but the demo data put a level without a review date on the
upcoming meeting's agenda, and the meeting page failed on it. Existing rows are made to hold first:
a level with no review date is kept and given today as its review date (the group sees the review
as due, rather than losing the level); a review date with no level is cleared (nothing to review).

Revision ID: 0023_risk_level_review
Revises: 0022_looked_after_periods
"""
from alembic import op

revision = '0023_risk_level_review'
down_revision = '0022_looked_after_periods'
branch_labels = None
depends_on = None

#: (table, review column)
TABLES = (("mace_agenda_item", "risk_review_on"), ("mace_agenda_child", "risk_review_due"))


def _rule(review: str) -> str:
    return f"(risk_level IS NULL) = ({review} IS NULL)"


def upgrade() -> None:
    for table, review in TABLES:
        op.execute(f"UPDATE {table} SET {review} = CURRENT_DATE WHERE risk_level IS NOT NULL AND {review} IS NULL")
        op.execute(f"UPDATE {table} SET {review} = NULL WHERE risk_level IS NULL AND {review} IS NOT NULL")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint(op.f(f"ck_{table}_risk_level_has_review"), _rule(review))


def downgrade() -> None:
    for table, _review in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_risk_level_has_review"), type_="check")
