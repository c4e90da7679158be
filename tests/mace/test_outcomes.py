"""Each agency's outcome of a meeting: confirmation with its system and reference, only by that
agency, and the reminders (5 working days) and the chair's escalation (10), each sent once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hub import db
from hub import worker as cli
from hub.errors import Invalid, NotFound
from hub.home import work_for
from hub.mace.operations import actions, mine, outcomes
from hub.models.audit import AuditEvent
from hub.models.mace import Attendance, MaceAgendaItem, MaceAttendance, MaceMeeting, MaceOutcome
from hub.models.notifications import OutboxMessage
from tests.factories import post_form, sign_in
from tests.support.statements import count_statements

LONDON = ZoneInfo("Europe/London")
#: Thursday 24 December 2026; Christmas Day, the Boxing Day substitute (Mon 28) and New Year's Day
#: are bank holidays, so the fifth working day after is Tue 5 January, the tenth Tue 12 January.
HELD = datetime(2026, 12, 24, 10, 0, tzinfo=LONDON)


def at(day: int, month: int = 1, year: int = 2027, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=LONDON).astimezone(UTC)


@pytest.fixture
def held(mace):
    """A held meeting about two children: police and health present, the school sent apologies."""
    chair = mace.user("chair")
    with db.unit_of_work() as s:
        meeting = MaceMeeting(group_id=mace.group.id, scheduled_for=HELD, held_at=HELD, created_by_user_id=chair.id)
        s.add(meeting)
        s.flush()
        for n, child in enumerate(mace.children[:2]):
            s.add(MaceAgendaItem(meeting_id=meeting.id, position=n, child_id=child.id, reason="chair",
                                 added_by_user_id=chair.id))
        for who, how in [("chair", Attendance.present), ("police", Attendance.present),
                         ("nurse", Attendance.present), ("dsl", Attendance.apologies)]:
            user = mace.user(who)
            s.add(MaceAttendance(meeting_id=meeting.id, user_id=user.id, organisation_id=user.organisation_id,
                                 attendance=how))
    return meeting


def confirm(mace, meeting, who="nurse", child=0, org=None, **extra):
    user = mace.user(who)
    values = dict(organisation_id=org or user.organisation_id, child_id=mace.children[child].id,
                  outcome="Added to the health record; GP told", system_name="SystmOne", system_reference="HR-1")
    return outcomes.record_outcome(user, meeting.id, outcomes.OutcomeDraft(**(values | extra)))


def outbox() -> list[OutboxMessage]:
    return list(db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_expected_outcomes_are_each_present_agency_for_each_child_on_the_agenda(mace, held):
    expected = outcomes.expected_outcomes([held.id])
    assert set(expected) == {(held.id, mace.authority.id), (held.id, mace.police.id), (held.id, mace.health.id)}
    assert all(kids == [c.id for c in mace.children[:2]] for kids in expected.values())


def test_an_agency_confirms_its_outcome_with_its_system_and_reference(mace, held):
    row = confirm(mace, held)
    assert row.confirmed_at is not None and row.system_reference == "HR-1"
    page = outcomes.meeting_outcomes(mace.user("chair"), held.id)
    health = next(a for a in page.agencies if a.organisation.id == mace.health.id)
    assert [line.confirmed for line in health.lines] == [True, False] and not health.confirmed
    assert not health.mine and not any(line.readable for line in health.lines)
    confirm(mace, held, child=1)
    assert next(a for a in outcomes.meeting_outcomes(mace.user("chair"), held.id).agencies
                if a.organisation.id == mace.health.id).confirmed


@pytest.mark.parametrize("missing", ["system_name", "system_reference", "outcome"])
def test_confirming_needs_the_outcome_the_system_name_and_the_reference(mace, held, missing):
    with pytest.raises(Invalid) as exc:
        confirm(mace, held, **{missing: "  "})
    assert missing in exc.value.errors
    assert db.session().scalar(select(MaceOutcome.id)) is None


def test_another_agency_cannot_record_my_agencys_outcome_and_the_attempt_is_audited(mace, held):
    with pytest.raises(NotFound):
        confirm(mace, held, who="police", org=mace.health.id)
    refused = db.session().scalars(select(AuditEvent).where(AuditEvent.outcome == "refused",
                                                            AuditEvent.object_type == "mace-outcome")).all()
    assert [e.actor_user_id for e in refused] == [mace.user("police").id]
    assert db.session().scalar(select(MaceOutcome.id)) is None


def test_an_agency_that_sent_apologies_or_a_child_not_discussed_owes_nothing(mace, held):
    with pytest.raises(Invalid):
        confirm(mace, held, who="dsl")
    with pytest.raises(Invalid):
        confirm(mace, held, child=2)


def test_outcomes_waiting_for_my_agency(mace, held):
    assert [w.child.id for w in outcomes.my_outcomes(mace.user("nurse"))] == [c.id for c in mace.children[:2]]
    confirm(mace, held)
    assert [w.child.id for w in outcomes.my_outcomes(mace.user("nurse"))] == [mace.children[1].id]
    assert outcomes.my_outcomes(mace.user("dsl")) == []


def test_the_working_days_skip_weekends_and_bank_holidays(held):
    assert outcomes.reminder_due_on(held).isoformat() == "2027-01-06"
    assert outcomes.escalation_due_on(held).isoformat() == "2027-01-13"


def test_a_late_agency_is_reminded_once_after_five_working_days_with_a_link_only(mace, held):
    confirm(mace, held, who="chair", outcome="Case noted", system_name="Liquidlogic", system_reference="C1")
    confirm(mace, held, who="chair", child=1, outcome="Case noted", system_name="Liquidlogic", system_reference="C2")
    assert outcomes.remind_due(at(5, hour=23)) == 0  # still within the fifth working day
    assert outbox() == []
    assert outcomes.remind_due(at(6)) == 2  # police and health, not social care (confirmed)
    sent = outbox()
    assert sorted(m.to_address for m in sent) == sorted([mace.user("police").email, mace.user("nurse").email])
    for message in sent:
        assert f"/mace/meetings/{held.id}/outcomes" in message.body
        for child in mace.children:
            assert child.given_name not in message.body + message.subject
        assert "Mace" not in message.body + message.subject and "Central" not in message.body
    assert outcomes.remind_due(at(6, hour=10)) == 0
    assert outcomes.remind_due(at(7)) == 0
    assert len(outbox()) == 2
    assert db.session().scalar(select(MaceOutcome.reminded_at).where(
        MaceOutcome.organisation_id == mace.health.id).limit(1)) is not None
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.action == "remind")).all()
    assert len(events) == 2 and all("Mace" not in str(e.detail) for e in events)


def test_the_chair_is_told_once_after_ten_working_days(mace, held):
    outcomes.remind_due(at(6))
    reminders = len(outbox())
    assert outcomes.remind_due(at(12, hour=23)) == 0
    assert outcomes.remind_due(at(13)) == 3  # one per agency still waiting
    chair_mail = outbox()[reminders:]
    assert {m.to_address for m in chair_mail} == {mace.user("chair").email}
    assert all(m.subject == outcomes.ESCALATION_SUBJECT for m in chair_mail)
    assert outcomes.remind_due(at(14)) == 0 and len(outbox()) == reminders + 3


def test_a_confirmed_agency_is_never_reminded_nor_escalated(mace, held):
    for who in ("chair", "police", "nurse"):
        confirm(mace, held, who=who)
        confirm(mace, held, who=who, child=1)
    assert outcomes.remind_due(at(13)) == 0 and outbox() == []


def test_when_the_worker_was_down_the_reminder_and_the_escalation_are_both_sent_once(mace, held):
    assert outcomes.remind_due(at(20)) == 6
    assert outcomes.remind_due(at(20)) == 0


def test_two_runs_at_once_send_each_reminder_once(app, mace, held):
    results: list[int] = []
    barrier = threading.Barrier(2)

    def run():
        with app.app_context():
            barrier.wait()
            try:
                results.append(outcomes.remind_due(at(6)))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 3
    assert len(outbox()) == 3  # the chair (social care), the police officer, the nurse: once each


def test_the_worker_cycle_includes_the_outcome_reminders(mace, held, monkeypatch):
    monkeypatch.setattr(outcomes, "utcnow", lambda: at(6))
    assert cli.escalate_due() >= 3


def test_the_nurse_confirms_on_the_outcomes_page_and_the_chair_sees_it_confirmed(app, mace, held):
    user, secret = mace.users["nurse"]
    client = app.test_client()
    sign_in(client, user, secret)
    url = f"/mace/meetings/{held.id}/outcomes"
    response = post_form(client, url, {"organisation_id": mace.health.id, "child_id": mace.children[0].id,
                                       "outcome": "On the health record", "system_name": "", "system_reference": "X"})
    assert response.status_code == 200 and "Enter the name of your agency" in response.get_data(as_text=True)
    response = post_form(client, url, {"organisation_id": mace.health.id, "child_id": mace.children[0].id,
                                       "outcome": "On the health record", "system_name": "SystmOne",
                                       "system_reference": "HR-9"})
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "HR-9" in page
    chair, chair_secret = mace.users["chair"]
    chair_client = app.test_client()
    sign_in(chair_client, chair, chair_secret)
    page = chair_client.get(url).get_data(as_text=True)
    assert "Confirmed" in page and "On the health record" not in page and "HR-9" not in page


def test_the_menus_mace_count_is_my_open_actions_and_the_outcomes_my_agency_owes_in_one_statement(app, mace, held):
    police = mace.user("police")
    actions.create_action(mace.user("chair"), held.id, actions.ActionDraft(
        description="Visit the park", owner_organisation_id=mace.police.id, owner_user_id=police.id,
        due_on=date.today() + timedelta(days=7)))
    counts = mine.home_counts(police)
    assert (counts.open_actions, counts.outcomes_waiting) == (1, 2)  # two children on the agenda, police present
    assert count_statements(app, lambda: mine.menu_waiting(police)) == 1
    assert mine.menu_waiting(police) == 3 == work_for(police).mace_waiting
    confirm(mace, held, who="police")
    assert mine.menu_waiting(police) == 2
    assert mine.menu_waiting(mace.user("dsl")) == 0  # apologies sent: the school owes nothing, owns no action
