"""The legal-basis rules a share must satisfy before it can be recorded."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from hub.models.roles import OrgKind
from hub.sharing.legal_bases import (
    BY_CODE,
    COMMENCEMENT,
    GATEWAYS,
    LISTS,
    BasisChoice,
    Commencement,
    check,
    commencement_note,
    in_force,
    offered,
)

PUBLIC = dict(sender_kind=OrgKind.childrens_social_care, special_category=False, criminal_offence=False,
              law_enforcement=False)


def test_every_list_has_unique_codes_labels_and_explanations():
    for entries in LISTS.values():
        assert len({e.code for e in entries}) == len(entries)
        assert all(e.label and len(e.explanation) > 20 for e in entries)


def test_a_public_task_share_under_a_gateway_is_lawful():
    assert check(BasisChoice(article_6="6(1)(e)", gateway="CA2004-s11"), **PUBLIC) == {}


def test_a_missing_article_6_basis_or_gateway_is_refused():
    errors = check(BasisChoice(), **PUBLIC)
    assert set(errors) == {"article_6", "gateway"}


def test_special_category_information_needs_an_article_9_condition():
    rules = {**PUBLIC, "special_category": True}
    assert "article_9" in check(BasisChoice(article_6="6(1)(e)", gateway="CA1989-s47"), **rules)
    assert check(BasisChoice(article_6="6(1)(e)", article_9="9(2)(g)+S1P18", gateway="CA1989-s47"), **rules) == {}


def test_criminal_offence_information_needs_an_article_10_condition():
    rules = {**PUBLIC, "criminal_offence": True}
    assert "article_10" in check(BasisChoice(article_6="6(1)(e)", gateway="CDA1998-s115"), **rules)


@pytest.mark.parametrize("kind, allowed", [(OrgKind.voluntary, True), (OrgKind.school, False)])
def test_legitimate_interests_are_for_non_public_bodies_only(kind, allowed):
    errors = check(BasisChoice(article_6="6(1)(f)", gateway="CA2004-s10"), **{**PUBLIC, "sender_kind": kind})
    assert ("article_6" not in errors) is allowed


def test_police_law_enforcement_sharing_uses_part_3_instead_of_the_articles():
    rules = {**PUBLIC, "sender_kind": OrgKind.police, "law_enforcement": True, "special_category": True}
    assert check(BasisChoice(part_3="S35+S8P4", gateway="CDA1998-s115"), **rules) == {}
    assert "part_3" in check(BasisChoice(gateway="CDA1998-s115"), **rules)
    assert "part_3" in check(BasisChoice(part_3="S35+S8P4", gateway="CDA1998-s115"),
                             **{**rules, "sender_kind": OrgKind.school})


def test_unknown_codes_are_refused_and_local_gateways_accepted():
    errors = check(BasisChoice(article_6="6(1)(z)", gateway="LOCAL-1"), **PUBLIC)
    assert set(errors) == {"article_6", "gateway"}
    assert check(BasisChoice(article_6="6(1)(e)", gateway="LOCAL-1"), **PUBLIC, local_gateways={"LOCAL-1"}) == {}


# --- commencement: a gateway is offered, and accepted, only from the day it is in force ----------

S16LA = "CA2004-s16LA"
APPOINTED = date(2027, 4, 1)
COMMENCED = {S16LA: Commencement(enacted=date(2026, 4, 29), in_force_from=APPOINTED, source="test")}


def test_the_information_sharing_duty_is_listed_with_its_commencement():
    assert BY_CODE["gateway"][S16LA].label == "Children Act 2004 section 16LA (duty to share information)"
    assert COMMENCEMENT[S16LA].enacted == date(2026, 4, 29)
    # No commencement regulations had appointed a day when this was written (s.78(5) of the Act).
    assert COMMENCEMENT[S16LA].in_force_from is None
    assert commencement_note(S16LA) == "Enacted 29 April 2026; not yet in force (no commencement regulations yet)"


def test_a_gateway_not_yet_in_force_is_neither_offered_nor_accepted_on_the_day_before():
    before = APPOINTED - timedelta(days=1)
    assert not in_force(S16LA, before, COMMENCED)
    assert S16LA not in {g.code for g in offered(GATEWAYS, before, COMMENCED)}
    errors = check(BasisChoice(article_6="6(1)(e)", gateway=S16LA), **PUBLIC, on=before, commencement=COMMENCED)
    assert errors == {"gateway": "Children Act 2004 section 16LA (duty to share information) is not in force on "
                                 "31 March 2027: choose a gateway that is"}


def test_the_same_gateway_is_offered_and_accepted_from_the_day_it_comes_into_force():
    for day in (APPOINTED, APPOINTED + timedelta(days=400)):
        assert in_force(S16LA, day, COMMENCED)
        assert S16LA in {g.code for g in offered(GATEWAYS, day, COMMENCED)}
        assert check(BasisChoice(article_6="6(1)(e)", gateway=S16LA), **PUBLIC, on=day, commencement=COMMENCED) == {}


def test_gateways_in_force_before_the_hub_began_are_in_force_on_any_day():
    assert in_force("CA1989-s47", date(2000, 1, 1)) and len(offered(GATEWAYS, date(2000, 1, 1))) == len(GATEWAYS) - 1
