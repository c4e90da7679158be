"""The retention rules, per record class: boundaries, no date of birth, and the class of a share."""

from __future__ import annotations

from datetime import date

import pytest

from hub.models.retention import RecordClass
from hub.models.roles import OrgKind
from hub.retention import rules
from hub.retention.rules import RecordFacts, review_date


def _due(record_class: RecordClass, written: date, born: date | None, period: int | None = None) -> date:
    period = rules.DEFAULTS[record_class].period if period is None else period
    return review_date(record_class, period, RecordFacts(written_on=written, date_of_birth=born))


def test_a_looked_after_childs_case_record_is_kept_to_the_75th_birthday():
    assert _due(RecordClass.looked_after_case_record, date(2024, 6, 1), date(2010, 5, 17)) == date(2085, 5, 17)


def test_a_school_child_protection_file_is_kept_to_date_of_birth_plus_25_years():
    assert _due(RecordClass.school_child_protection, date(2020, 1, 1), date(2012, 3, 27)) == date(2037, 3, 27)


@pytest.mark.parametrize(("born", "expected"), [
    # 17 on the day the record is written: the 26th birthday.
    (date(2007, 6, 1), date(2033, 6, 1)),
    # 17 tomorrow: still 16 at the end of care, the 25th birthday.
    (date(2007, 6, 2), date(2032, 6, 2)),
])
def test_an_nhs_child_record_is_kept_to_the_25th_birthday_or_26th_if_17_at_the_end_of_care(born, expected):
    assert _due(RecordClass.health_record, date(2024, 6, 1), born) == expected


def test_a_police_record_is_reviewed_6_years_after_it_was_written_whatever_the_childs_age():
    assert _due(RecordClass.police_record, date(2024, 6, 1), date(2010, 1, 1)) == date(2030, 6, 1)
    assert _due(RecordClass.police_record, date(2024, 6, 1), None) == date(2030, 6, 1)


def test_an_outbox_email_goes_its_days_after_it_was_written():
    assert _due(RecordClass.outbox_email, date(2024, 12, 20), None) == date(2025, 1, 19)


def test_a_29_february_becomes_1_march_in_a_common_year_never_earlier():
    assert _due(RecordClass.police_record, date(2024, 2, 29), None) == date(2030, 3, 1)
    assert _due(RecordClass.school_child_protection, date(2020, 1, 1), date(2008, 2, 29)) == date(2033, 3, 1)


def test_with_no_date_of_birth_the_child_counts_as_born_the_day_the_record_was_written():
    """The stated fallback: the longest the rule could ask (a child is never younger than 0)."""
    written = date(2024, 6, 1)
    assert _due(RecordClass.looked_after_case_record, written, None) == date(2099, 6, 1)
    assert _due(RecordClass.mace_intelligence, written, None) == date(2049, 6, 1)
    assert _due(RecordClass.health_record, written, None) == date(2049, 6, 1)
    # Never earlier than with any real date of birth on or before the day it was written.
    assert _due(RecordClass.school_child_protection, written, None) >= _due(
        RecordClass.school_child_protection, written, date(2024, 5, 31))


def test_a_record_written_after_the_birthday_its_rule_names_is_kept_a_year_not_due_at_once():
    assert _due(RecordClass.social_care_record, date(2024, 6, 1), date(1990, 1, 1)) == date(2025, 6, 1)


def test_an_agencys_own_period_replaces_the_default():
    assert _due(RecordClass.police_record, date(2024, 6, 1), None, period=10) == date(2034, 6, 1)


@pytest.mark.parametrize(("kind", "mace", "looked_after", "expected"), [
    (OrgKind.childrens_social_care, False, True, RecordClass.looked_after_case_record),
    (OrgKind.childrens_social_care, False, False, RecordClass.social_care_record),
    (OrgKind.school, False, True, RecordClass.school_child_protection),
    (OrgKind.health, False, False, RecordClass.health_record),
    (OrgKind.police, False, False, RecordClass.police_share),
    (OrgKind.voluntary, False, False, RecordClass.partner_record),
    (OrgKind.police, True, False, RecordClass.mace_intelligence),
])
def test_a_share_is_classed_by_its_sender_and_mace_intelligence_is_the_groups(kind, mace, looked_after, expected):
    assert rules.share_class(kind, mace_intelligence=mace, looked_after=looked_after) == expected


def test_every_class_has_a_source_and_every_kind_of_agency_a_schedule():
    assert all(default.source for default in rules.DEFAULTS.values())
    assert set(rules.CLASSES_FOR_KIND) == set(OrgKind)
    assert rules.describe(RecordClass.health_record, 25) == "health_record: to the 25th birthday"
    assert rules.describe(RecordClass.police_record, 6) == "police_record: 6 years after written"
