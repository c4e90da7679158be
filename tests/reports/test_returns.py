"""The SSD ssd_missing table and the SSDA903 missing file: exact columns, codes and date formats
against a hand-counted fixture (a collection-year boundary crossed at 31 March 23:30 BST, an open
episode, an absent one), who may export them, and the audit of each export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from hub import db
from hub.errors import Forbidden, Invalid, NotFound
from hub.models.audit import AuditEvent
from hub.models.missing import Classification
from hub.models.people import Child, IdentifierKind
from hub.models.roles import OrgKind, Role
from hub.people import service as people
from hub.reports import returns
from tests.factories import make_child, make_org, make_user, sign_in
from tests.reports.world import add_episode

UTC = UTC
TODAY = date(2026, 12, 2)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture
def world(app):
    w = type("World", (), {})()
    w.authority, w.other_authority = make_org(OrgKind.childrens_social_care), make_org(OrgKind.childrens_social_care)
    w.police, w.school = make_org(OrgKind.police), make_org(OrgKind.school)
    la = {"looked_after": True, "looked_after_since": date(2020, 1, 1), "responsible_authority_id": w.authority.id}
    w.c1 = make_child("Ann", "One", date(2011, 6, 15), placing_authority_id=w.authority.id,
                      identifiers={IdentifierKind.la_id: "A0001"}, **la)
    w.c2 = make_child("Bea", "Two", date(2010, 1, 2), identifiers={IdentifierKind.la_id: "A0002"}, **la)
    w.c3 = make_child("Cal", "Three", date(2012, 5, 5), responsible_authority_id=w.authority.id,
                      identifiers={IdentifierKind.la_id: "A0003"})
    w.no_id = make_child("Dee", "Four", date(2011, 7, 7), identifiers={}, **la)
    w.theirs = make_child("Eve", "Five", date(2011, 8, 8), looked_after=True, looked_after_since=date(2020, 1, 1),
                          responsible_authority_id=w.other_authority.id, identifiers={IdentifierKind.la_id: "B0001"})
    # 31 March 2026 23:30 BST (UTC+1 since 29 March): the last evening of collection year 2026,
    # found after it ended, offered and given an interview.
    w.e1 = add_episode(w.c1, w.police, utc(2026, 3, 31, 22, 30), utc(2026, 4, 1, 10, 0),
                       return_interview_offered_at=utc(2026, 4, 1, 12, 0), return_interview_at=utc(2026, 4, 2, 9, 0))
    # 1 April 2026 00:30 BST: still 31 March in UTC, but collection year 2027. Absent; no interview.
    w.e2 = add_episode(w.c1, w.police, utc(2026, 3, 31, 23, 30), utc(2026, 4, 1, 6, 0),
                       classification=Classification.absent)
    # The first morning of the year; absent; offered and declined.
    w.e3 = add_episode(w.c2, w.police, utc(2025, 4, 1, 8, 0), utc(2025, 4, 1, 20, 0),
                       classification=Classification.absent, return_interview_offered_at=utc(2025, 4, 2, 9, 0),
                       return_interview_declined=True)
    # 31 March 2025 23:00 BST: the year before.
    w.e4 = add_episode(w.c2, w.police, utc(2025, 3, 31, 22, 0), utc(2025, 4, 1, 9, 0))
    # Still open (GMT in February).
    w.e5 = add_episode(w.c2, w.police, utc(2026, 2, 10, 15, 0))
    w.e6 = add_episode(w.c3, w.police, utc(2025, 10, 10, 12, 0), utc(2025, 10, 11, 12, 0))
    w.e7 = add_episode(w.no_id, w.police, utc(2025, 11, 11, 12, 0), utc(2025, 11, 12, 12, 0))
    w.e8 = add_episode(w.theirs, w.police, utc(2025, 12, 1, 12, 0), utc(2025, 12, 2, 12, 0))
    w.worker, w.worker_secret = make_user(w.authority, Role.social_worker)
    w.their_worker, _ = make_user(w.other_authority, Role.social_worker)
    w.analyst, w.analyst_secret = make_user(w.authority, Role.analyst)
    w.officer, _ = make_user(w.police, Role.police_officer)
    w.dsl, _ = make_user(w.school, Role.dsl)
    return w


def read(made: returns.ReturnFile) -> list[list[str]]:
    text = made.content.decode("utf-8")
    assert not text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text)))


def test_ssd_missing_has_exactly_the_ssd_columns_and_every_episode_of_the_authoritys_children(world):
    made = returns.ssd_missing(world.worker)
    rows = read(made)
    assert rows[0] == ["miss_table_id", "miss_person_id", "miss_missing_episode_start_date",
                       "miss_missing_episode_type", "miss_missing_episode_end_date", "miss_missing_rhi_offered",
                       "miss_missing_rhi_accepted"]
    assert rows[1:] == [
        [str(world.e4.id), "A0002", "2025-03-31 23:00:00", "M", "2025-04-01 10:00:00", "N", ""],
        [str(world.e3.id), "A0002", "2025-04-01 09:00:00", "M", "2025-04-01 21:00:00", "Y", "N"],
        [str(world.e6.id), "A0003", "2025-10-10 13:00:00", "M", "2025-10-11 13:00:00", "N", ""],
        [str(world.e5.id), "A0002", "2026-02-10 15:00:00", "M", "", "NA", ""],
        [str(world.e1.id), "A0001", "2026-03-31 23:30:00", "M", "2026-04-01 11:00:00", "Y", "Y"],
        [str(world.e2.id), "A0001", "2026-04-01 00:30:00", "M", "2026-04-01 07:00:00", "N", ""],
    ]
    assert (made.rows, made.left_out) == (6, 1)  # the child with no local authority id
    assert made.content.endswith(b"\r\n") and made.filename == "ssd_missing.csv"


def test_ssda903_missing_has_the_903_columns_dd_mm_yyyy_dates_and_the_episodes_overlapping_the_year(world):
    made = returns.ssda903_missing(world.worker, 2026, today=TODAY)
    assert read(made) == [
        ["CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"],
        ["A0002", "02/01/2010", "M", "31/03/2025", "01/04/2025"],  # started the year before, ended in it
        ["A0002", "02/01/2010", "M", "01/04/2025", "01/04/2025"],  # police "absent": whereabouts unknown, M
        ["A0002", "02/01/2010", "M", "10/02/2026", ""],            # still open
        ["A0001", "15/06/2011", "M", "31/03/2026", ""],            # found after 31 March: open at the year's end
    ]
    assert (made.rows, made.left_out) == (4, 1)
    assert made.filename == "ssda903-missing-2026.csv"


def test_an_episode_starting_after_midnight_bst_on_1_april_belongs_to_the_next_collection_year(world):
    rows = read(returns.ssda903_missing(world.worker, 2027, today=TODAY))
    assert ["A0001", "15/06/2011", "M", "01/04/2026", "01/04/2026"] in rows[1:]
    assert ["A0001", "15/06/2011", "M", "31/03/2026", ""] not in rows[1:]


def test_a_looked_after_child_with_no_local_authority_id_is_left_out_and_counted(world):
    made = returns.ssda903_missing(world.worker, 2026, today=TODAY)
    assert made.left_out == 1  # e7, 11 November 2025
    assert all(row[0] for row in read(made)[1:])


def test_another_authoritys_children_never_appear_and_theirs_see_only_their_own(world):
    ours = returns.ssd_missing(world.worker).content.decode()
    assert "B0001" not in ours and str(world.e8.id) not in [r[0] for r in read(returns.ssd_missing(world.worker))]
    theirs = read(returns.ssd_missing(world.their_worker))
    assert [r[1] for r in theirs[1:]] == ["B0001"]
    assert [r[0] for r in read(returns.ssda903_missing(world.their_worker, 2026, today=TODAY))[1:]] == ["B0001"]


def test_children_not_looked_after_are_not_in_the_903_file(world):
    rows = read(returns.ssda903_missing(world.worker, 2026, today=TODAY))
    assert "A0003" not in [r[0] for r in rows]


@pytest.mark.parametrize("who", ["dsl", "officer", "analyst"])
def test_a_school_the_police_and_the_analyst_are_refused_both_returns_and_the_refusal_is_audited(world, who):
    user = getattr(world, who)
    with pytest.raises(Forbidden):
        returns.ssd_missing(user)
    with pytest.raises(Forbidden):
        returns.ssda903_missing(user, 2026, today=TODAY)
    refused = list(db.session().scalars(select(AuditEvent).where(
        AuditEvent.actor_user_id == user.id, AuditEvent.action == "return-export")))
    assert [(e.outcome, e.object_id) for e in refused] == [("refused", "ssd_missing"), ("refused", "ssda903_missing")]


def test_an_analyst_who_is_also_a_social_worker_is_still_refused(world):
    both, _ = make_user(world.authority, Role.social_worker, Role.analyst)
    with pytest.raises(Forbidden):
        returns.ssd_missing(both)


def test_each_export_is_one_audit_event_with_the_return_year_and_row_count_only(world):
    returns.ssda903_missing(world.worker, 2026, today=TODAY)
    returns.ssd_missing(world.worker)
    events = list(db.session().scalars(select(AuditEvent).where(AuditEvent.action == "return-export")
                                       .order_by(AuditEvent.id)))
    assert [(e.outcome, e.object_type, e.object_id, e.child_id) for e in events] == [
        ("done", "return", "ssda903_missing", None), ("done", "return", "ssd_missing", None)]
    assert [json.loads(e.detail) for e in events] == [
        {"return": "ssda903_missing", "year": 2026, "rows": 4}, {"return": "ssd_missing", "year": None, "rows": 6}]


@pytest.mark.parametrize("year", [2014, 2028])
def test_a_year_outside_the_offered_range_is_refused_with_a_message(world, year):
    with pytest.raises(Invalid) as caught:
        returns.ssda903_missing(world.worker, year, today=TODAY)
    assert caught.value.errors == {"year": "Enter a collection year from 2015 to 2027"}


def test_the_collection_year_is_named_by_the_year_it_ends_in():
    year = returns.collection_year(2026, today=TODAY)
    assert (year.first_day, year.last_day, year.label) == (date(2025, 4, 1), date(2026, 3, 31), "2025 to 2026")
    assert year.starts == utc(2025, 3, 31, 23, 0) and year.ends == utc(2026, 3, 31, 23, 0)  # BST midnights
    assert returns.latest_year(date(2026, 3, 31)) == 2026 and returns.latest_year(date(2026, 4, 1)) == 2027


# --- the pages ---------------------------------------------------------------------------------------

def test_the_returns_page_and_downloads_for_the_authoritys_social_worker(world, client):
    sign_in(client, world.worker, world.worker_secret)
    page = client.get("/reports/returns")
    assert page.status_code == 200 and "ssd_missing" in page.get_data(as_text=True)
    ssd = client.get("/reports/returns/ssd-missing.csv")
    assert ssd.status_code == 200 and ssd.mimetype == "text/csv"
    assert 'filename="ssd_missing.csv"' in ssd.headers["Content-Disposition"]
    assert ssd.get_data().splitlines()[0] == b",".join(c.encode() for c in returns.SSD_MISSING_COLUMNS)
    file = client.get("/reports/returns/ssda903-missing.csv?year=2026")
    assert file.status_code == 200
    assert file.get_data().splitlines()[0] == b"CHILD,DOB,MISSING,MIS_START,MIS_END"


@pytest.mark.parametrize("year, message", [("1999", "Enter a collection year from 2015 to"),
                                           ("twenty", "Enter the year as 4 digits, like 2026"),
                                           ("", "Enter a year")])
def test_a_bad_year_shows_the_form_again_with_an_error_summary_and_what_was_typed(world, client, year, message):
    sign_in(client, world.worker, world.worker_secret)
    response = client.get(f"/reports/returns/ssda903-missing.csv?year={year}")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "govuk-error-summary" in html and message in html
    assert f'value="{year}"' in html or not year


def test_the_analyst_is_refused_the_return_pages_with_a_403(world, client):
    sign_in(client, world.analyst, world.analyst_secret)
    for url in ("/reports/returns", "/reports/returns/ssd-missing.csv",
                "/reports/returns/ssda903-missing.csv?year=2026"):
        assert client.get(url).status_code == 403, url


# --- issue 19, item 11: the SSDA903 missing file's episodes, status and codes -----------------------

def test_903_an_episode_open_on_31_march_is_returned_open_then_closed_in_the_year_it_ends(world):
    """Rules 570 and 571: every episode overlapping the year, not only those that started in it. e1
    started on 31 March 2026 and was found on 1 April: open in 2026's return, closed in 2027's; e5,
    still open, is in both, open."""
    in_2026 = read(returns.ssda903_missing(world.worker, 2026, today=TODAY))[1:]
    in_2027 = read(returns.ssda903_missing(world.worker, 2027, today=TODAY))[1:]
    assert ["A0001", "15/06/2011", "M", "31/03/2026", ""] in in_2026
    assert ["A0001", "15/06/2011", "M", "31/03/2026", "01/04/2026"] in in_2027
    assert ["A0002", "02/01/2010", "M", "10/02/2026", ""] in in_2026
    assert ["A0002", "02/01/2010", "M", "10/02/2026", ""] in in_2027
    # An episode that ended before the year began is not the year's (rule 571).
    assert ["A0002", "02/01/2010", "M", "31/03/2025", "01/04/2025"] not in in_2027


def test_903_an_episode_that_started_before_the_year_and_ended_in_it_is_returned(world):
    rows = read(returns.ssda903_missing(world.worker, 2026, today=TODAY))[1:]
    assert ["A0002", "02/01/2010", "M", "31/03/2025", "01/04/2025"] in rows  # e4


def test_903_takes_looked_after_status_during_the_episode_from_the_periods(world):
    """A child looked after from 1 May 2025 to 31 December 2025, not looked after now: their episode in
    October is returned (rule 581 satisfied: after the start); one in April, before they started to be
    looked after (rule 581), and one in February 2026, after they ceased (rule 578), are not."""
    child = make_child("Fay", "Six", date(2010, 9, 9), looked_after=True, looked_after_since=date(2025, 5, 1),
                       placing_authority_id=world.authority.id, identifiers={IdentifierKind.la_id: "A0006"})
    people.record_looked_after_period(None, child.id, date(2025, 5, 1), date(2025, 12, 31))
    assert db.session().get(Child, child.id).looked_after is False
    add_episode(child, world.police, utc(2025, 4, 20, 12), utc(2025, 4, 21, 12))
    add_episode(child, world.police, utc(2025, 10, 20, 12), utc(2025, 10, 21, 12))
    add_episode(child, world.police, utc(2026, 2, 20, 12), utc(2026, 2, 21, 12))
    rows = [r for r in read(returns.ssda903_missing(world.worker, 2026, today=TODAY))[1:] if r[0] == "A0006"]
    assert rows == [["A0006", "09/09/2010", "M", "20/10/2025", "21/10/2025"]]


def test_903_an_episode_open_when_care_ended_ends_on_the_day_care_ended(world):
    """Rule 577: no missing episode left open after the child ceased to be looked after."""
    child = make_child("Gus", "Seven", date(2008, 1, 1), looked_after=True, looked_after_since=date(2024, 1, 1),
                       placing_authority_id=world.authority.id, identifiers={IdentifierKind.la_id: "A0007"})
    add_episode(child, world.police, utc(2025, 12, 1, 12))  # never found
    people.record_looked_after_period(None, child.id, date(2024, 1, 1), date(2026, 1, 1))  # turned 18
    rows = [r for r in read(returns.ssda903_missing(world.worker, 2026, today=TODAY))[1:] if r[0] == "A0007"]
    assert rows == [["A0007", "01/01/2008", "M", "01/12/2025", "01/01/2026"]]


def test_police_absent_is_never_coded_a_away_from_placement_without_authorisation(world):
    """A, in the 903 and the SSD, is "away from placement without authorisation": whereabouts known.
    The police's "absent" is whereabouts unknown (lower risk): M."""
    assert returns.EPISODE_TYPE[Classification.absent] == "M"
    for made in (returns.ssda903_missing(world.worker, 2026, today=TODAY), returns.ssd_missing(world.worker)):
        rows = read(made)
        column = rows[0].index("MISSING" if "MISSING" in rows[0] else "miss_missing_episode_type")
        assert {r[column] for r in rows[1:]} == {"M"}


def test_a_looked_after_period_cannot_overlap_another_and_a_closed_one_ends_looked_after_now(world):
    with pytest.raises(Invalid):
        people.record_looked_after_period(None, world.c2.id, date(2021, 1, 1), date(2021, 2, 1))
    with pytest.raises(Invalid):
        people.record_looked_after_period(None, world.c2.id, date(2020, 1, 1), date(2019, 1, 1))
    people.record_looked_after_period(None, world.c2.id, date(2020, 1, 1), date(2025, 6, 30))
    assert db.session().get(Child, world.c2.id).looked_after is False
    people.record_looked_after_period(None, world.c2.id, date(2026, 1, 1))
    assert db.session().get(Child, world.c2.id).looked_after is True
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.action == "update",
                                                          AuditEvent.child_id == world.c2.id)).all()[-1]
    assert json.loads(event.detail)["open"] is True


def test_only_an_administrator_records_a_looked_after_period(world):
    with pytest.raises(NotFound):  # refused as if there were no such child, as create_child refuses
        people.record_looked_after_period(world.worker, world.c2.id, date(2026, 1, 1))


# --- issue 19, item 12: the SSD window and RHI accepted -------------------------------------------------

def test_ssd_missing_keeps_episodes_ended_in_the_last_6_years_or_still_open(world):
    old = add_episode(world.c3, world.police, utc(2019, 1, 1, 12), utc(2019, 1, 2, 12))       # ended 7 years ago
    recent = add_episode(world.c3, world.police, utc(2021, 1, 1, 12), utc(2021, 1, 2, 12))    # 5 years ago
    open_long = add_episode(world.c3, world.police, utc(2018, 6, 1, 12))                       # still open
    # Ended 6 years ago to the day: still in the window.
    boundary = add_episode(world.c3, world.police, utc(2020, 12, 1, 12), utc(2020, 12, 2, 12))
    ids = {r[0] for r in read(returns.ssd_missing(world.worker, today=TODAY))[1:]}
    assert str(old.id) not in ids
    assert {str(recent.id), str(open_long.id), str(boundary.id)} <= ids


def test_ssd_rhi_accepted_is_blank_when_no_interview_was_offered(world):
    rows = {r[0]: r for r in read(returns.ssd_missing(world.worker))[1:]}
    assert rows[str(world.e6.id)][5:] == ["N", ""]       # ended, nothing offered: offered N, accepted blank
    assert rows[str(world.e3.id)][5:] == ["Y", "N"]      # offered and declined
    assert rows[str(world.e1.id)][5:] == ["Y", "Y"]      # held
