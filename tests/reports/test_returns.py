"""The SSD ssd_missing table and the SSDA903 missing file: exact columns, codes and date formats
against a hand-counted fixture (a collection-year boundary crossed at 31 March 23:30 BST, an open
episode, an absent one), who may export them, and the audit of each export."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from hub import db
from hub.audit.models import AuditEvent
from hub.auth.roles import OrgKind, Role
from hub.errors import Forbidden, Invalid
from hub.missing.models import Classification
from hub.people.models import IdentifierKind
from hub.reports import returns
from tests.factories import make_child, make_org, make_user, sign_in
from tests.reports.world import add_episode

UTC = timezone.utc
TODAY = date(2026, 12, 2)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture
def world(app):
    w = type("World", (), {})()
    w.authority, w.other_authority = make_org(OrgKind.childrens_social_care), make_org(OrgKind.childrens_social_care)
    w.police, w.school = make_org(OrgKind.police), make_org(OrgKind.school)
    la = {"looked_after": True, "responsible_authority_id": w.authority.id}
    w.c1 = make_child("Ann", "One", date(2011, 6, 15), placing_authority_id=w.authority.id,
                      identifiers={IdentifierKind.la_id: "A0001"}, **la)
    w.c2 = make_child("Bea", "Two", date(2010, 1, 2), identifiers={IdentifierKind.la_id: "A0002"}, **la)
    w.c3 = make_child("Cal", "Three", date(2012, 5, 5), responsible_authority_id=w.authority.id,
                      identifiers={IdentifierKind.la_id: "A0003"})
    w.no_id = make_child("Dee", "Four", date(2011, 7, 7), identifiers={}, **la)
    w.theirs = make_child("Eve", "Five", date(2011, 8, 8), looked_after=True,
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
        [str(world.e4.id), "A0002", "2025-03-31 23:00:00", "M", "2025-04-01 10:00:00", "N", "NA"],
        [str(world.e3.id), "A0002", "2025-04-01 09:00:00", "A", "2025-04-01 21:00:00", "Y", "N"],
        [str(world.e6.id), "A0003", "2025-10-10 13:00:00", "M", "2025-10-11 13:00:00", "N", "NA"],
        [str(world.e5.id), "A0002", "2026-02-10 15:00:00", "M", "", "NA", "NA"],
        [str(world.e1.id), "A0001", "2026-03-31 23:30:00", "M", "2026-04-01 11:00:00", "Y", "Y"],
        [str(world.e2.id), "A0001", "2026-04-01 00:30:00", "A", "2026-04-01 07:00:00", "N", "NA"],
    ]
    assert (made.rows, made.left_out) == (6, 1)  # the child with no local authority id
    assert made.content.endswith(b"\r\n") and made.filename == "ssd_missing.csv"


def test_ssda903_missing_has_the_903_columns_dd_mm_yyyy_dates_and_the_episodes_that_started_in_the_year(world):
    made = returns.ssda903_missing(world.worker, 2026, today=TODAY)
    assert read(made) == [
        ["CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"],
        ["A0002", "02/01/2010", "A", "01/04/2025", "01/04/2025"],
        ["A0002", "02/01/2010", "M", "10/02/2026", ""],           # still open
        ["A0001", "15/06/2011", "M", "31/03/2026", ""],           # found after 31 March: not this year's end
    ]
    assert (made.rows, made.left_out) == (3, 1)
    assert made.filename == "ssda903-missing-2026.csv"


def test_an_episode_starting_after_midnight_bst_on_1_april_belongs_to_the_next_collection_year(world):
    rows = read(returns.ssda903_missing(world.worker, 2027, today=TODAY))
    assert rows[1:] == [["A0001", "15/06/2011", "A", "01/04/2026", "01/04/2026"]]


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
        {"return": "ssda903_missing", "year": 2026, "rows": 3}, {"return": "ssd_missing", "year": None, "rows": 6}]


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
