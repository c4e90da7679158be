"""The per-agency export of a meeting: one workbook (Agenda, Actions, Outcomes) holding only what
the requesting member's agency may see, audited, with a fixed number of queries."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select

from hub import db
from hub.db import utcnow
from hub.errors import NotFound
from hub.mace.operations import exports
from hub.models.audit import AuditEvent
from hub.models.mace import (
    Attendance,
    MaceAction,
    MaceAgencyUpdate,
    MaceAgendaItem,
    MaceAttendance,
    MaceMeeting,
    MaceOutcome,
)
from hub.models.people import Child
from tests.factories import make_child, sign_in


def build_meeting(mace, children: list[Child]) -> MaceMeeting:
    """A held meeting about `children`, with the police's and health's updates and outcomes on each."""
    chair, police, nurse = mace.user("chair"), mace.user("police"), mace.user("nurse")
    with db.unit_of_work() as s:
        meeting = MaceMeeting(group_id=mace.group.id, scheduled_for=utcnow(), held_at=utcnow(),
                              notes="=Minutes of the meeting", created_by_user_id=chair.id)
        s.add(meeting)
        s.flush()
        for user in (chair, police, nurse):
            s.add(MaceAttendance(meeting_id=meeting.id, user_id=user.id, organisation_id=user.organisation_id,
                                 attendance=Attendance.present))
        for n, child in enumerate(children):
            item = MaceAgendaItem(meeting_id=meeting.id, position=n, child_id=child.id, reason="chair",
                                  minutes=f"Minutes {n}", decisions=f"Decision {n}", added_by_user_id=chair.id)
            s.add(item)
            s.flush()
            s.add_all([
                MaceAgencyUpdate(item_id=item.id, organisation_id=mace.police.id, user_id=police.id,
                                 text=f"POLICE UPDATE {n}"),
                MaceAgencyUpdate(item_id=item.id, organisation_id=mace.health.id, user_id=nurse.id,
                                 text=f"HEALTH UPDATE {n}"),
                MaceOutcome(meeting_id=meeting.id, organisation_id=mace.police.id, child_id=child.id,
                            outcome=f"POLICE OUTCOME {n}", system_name="Niche", system_reference=f"OCC-{n}",
                            confirmed_at=utcnow(), confirmed_by_user_id=police.id),
                MaceOutcome(meeting_id=meeting.id, organisation_id=mace.health.id, child_id=child.id,
                            outcome=f"HEALTH OUTCOME {n}", system_name="SystmOne", system_reference=f"HR-{n}",
                            confirmed_at=utcnow(), confirmed_by_user_id=nurse.id),
                MaceAction(group_id=mace.group.id, meeting_id=meeting.id, item_id=item.id,
                           description=f"Action {n}", owner_organisation_id=mace.police.id,
                           owner_user_id=police.id if n % 2 else None, due_on=date.today() + timedelta(days=n),
                           created_by_user_id=chair.id),
            ])
    return meeting


def _read(content: bytes) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def _text(sheets: dict[str, list[tuple]]) -> str:
    return "\n".join(str(v) for rows in sheets.values() for row in rows for v in row if v is not None)


def test_the_export_for_health_holds_its_own_updates_and_outcomes_and_not_the_polices(mace):
    meeting = build_meeting(mace, mace.children[:2])
    sheets = _read(exports.meeting_export(mace.user("nurse"), meeting.id).content)
    assert list(sheets) == ["Agenda", "Actions", "Outcomes"]
    text = _text(sheets)
    assert "HEALTH UPDATE 0" in text and "HEALTH OUTCOME 1" in text and "HR-1" in text
    assert "POLICE UPDATE" not in text and "POLICE OUTCOME" not in text and "OCC-" not in text
    assert "Action 0" in text and "Action 1" in text  # every action of the meeting
    assert len(sheets["Outcomes"]) == 3 and len(sheets["Actions"]) == 3
    assert sheets["Agenda"][1][6] == "'=Minutes of the meeting"  # formula-like text made inert
    assert mace.children[0].full_name in text


def test_the_export_for_police_holds_the_polices_outcomes_only(mace):
    meeting = build_meeting(mace, mace.children[:1])
    text = _text(_read(exports.meeting_export(mace.user("police"), meeting.id).content))
    assert "POLICE OUTCOME 0" in text and "HEALTH OUTCOME" not in text and "HEALTH UPDATE" not in text


def test_the_export_is_audited_as_an_export(mace):
    meeting = build_meeting(mace, mace.children[:1])
    exports.meeting_export(mace.user("nurse"), meeting.id)
    event_ = db.session().scalars(select(AuditEvent).where(AuditEvent.action == "export",
                                                           AuditEvent.object_type == "mace-meeting")).one()
    assert event_.actor_user_id == mace.user("nurse").id and "HEALTH" not in str(event_.detail)


@pytest.mark.parametrize("who", ["former", "outsider_police"])
def test_a_non_member_or_former_member_cannot_export(mace, who):
    meeting = build_meeting(mace, mace.children[:1])
    with pytest.raises(NotFound):
        exports.meeting_export(mace.user(who), meeting.id)


def _statements(app, fn) -> int:
    engine = app.extensions["hub_engine"]
    seen: list[str] = []

    def keep(_conn, _cursor, statement, *_rest):
        seen.append(statement)

    db.session().expunge_all()  # what the identity map happens to hold must not change the count
    event.listen(engine, "before_cursor_execute", keep)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    # The audit log's own tree updates vary with its size: count the export's own queries.
    return len([st for st in seen if "audit_" not in st])


def test_a_big_meeting_exports_with_the_same_number_of_queries(app, mace):
    small = build_meeting(mace, mace.children[:2])
    many = [make_child(f"Big{n}", "Child") for n in range(60)]
    big = build_meeting(mace, many)
    nurse = mace.user("nurse")
    exports.meeting_export(nurse, small.id)  # warm caches
    # The same statements for 2 children as for 60: its time is measured in bench/mace.py, not here.
    assert _statements(app, lambda: exports.meeting_export(nurse, small.id)) == \
        _statements(app, lambda: exports.meeting_export(nurse, big.id))


def test_the_export_url_answers_an_xlsx_file(app, mace):
    meeting = build_meeting(mace, mace.children[:1])
    user, secret = mace.users["nurse"]
    client = app.test_client()
    sign_in(client, user, secret)
    response = client.get(f"/mace/meetings/{meeting.id}/export.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert "HEALTH OUTCOME 0" in _text(_read(response.data))
