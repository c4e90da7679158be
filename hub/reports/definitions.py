"""Definitions shared by the dashboard, the annual workbook and the returns, so that one word
means one thing wherever a count of it is published."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, or_

#: Stated on the dashboard (the figure's note), in the workbook's Notes and on the returns page.
RETURN_INTERVIEW_OFFERED = (
    "A return home interview counts as offered when an offer is recorded, or the interview took place, or "
    "the child declined it: an interview held or declined was offered, whether or not the offer itself "
    "was recorded.")


def return_interview_offered(offered_at: datetime | None, held_at: datetime | None, declined: bool | None) -> bool:
    """RETURN_INTERVIEW_OFFERED, for one episode's values."""
    return offered_at is not None or held_at is not None or bool(declined)


def return_interview_offered_clause(offered_at: ColumnElement, held_at: ColumnElement,
                                    declined: ColumnElement) -> ColumnElement[bool]:
    """RETURN_INTERVIEW_OFFERED, in SQL."""
    return or_(offered_at.is_not(None), held_at.is_not(None), declined.is_(True))
