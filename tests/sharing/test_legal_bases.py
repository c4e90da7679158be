"""The legal-basis rules a share must satisfy before it can be recorded."""

from __future__ import annotations

import pytest

from hub.auth.roles import OrgKind
from hub.sharing.legal_bases import LISTS, BasisChoice, check

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
