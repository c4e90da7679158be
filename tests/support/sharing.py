"""The sharing tests' worlds (as dicts keyed by the people's and organisations' names) and a share
about their child, filled in as a social worker would."""

from __future__ import annotations

from datetime import date, timedelta

from hub.models.roles import OrgKind, Role
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, SourceKind
from hub.sharing import service
from hub.sharing.legal_bases import BasisChoice
from tests.factories import enrol, involve, make_child, make_org, make_user, sign_in


def register_world() -> dict:
    """A child of an authority, on a school's roll; the authority's worker and manager, the
    school's DSL and another school's, a nurse, an officer and the hub's DPO (by name)."""
    la = make_org(OrgKind.childrens_social_care)
    school, other_school = make_org(OrgKind.school), make_org(OrgKind.school)
    health, police = make_org(OrgKind.health), make_org(OrgKind.police)
    host = make_org(OrgKind.mace_host)
    child = make_child("Shared", "About", responsible_authority_id=la.id)
    enrol(child, school)
    worker, _ = make_user(la, Role.social_worker)
    manager, _ = make_user(la, Role.social_worker)
    return dict(la=la, school=school, other_school=other_school, health=health, police=police, child=child,
                worker=worker, manager=manager,
                dsl=make_user(school, Role.dsl)[0], other_dsl=make_user(other_school, Role.dsl)[0],
                nurse=make_user(health, Role.health_practitioner)[0], officer=make_user(police, Role.police_officer)[0],
                hub_dpo=make_user(host, Role.dpo)[0])


def pages_world() -> dict:
    """A child of an authority on a school's roll and known to the police; the authority's worker
    and manager, the DSL and an officer, each with their TOTP secret (under "secrets")."""
    la, school, health, police = (make_org(OrgKind.childrens_social_care), make_org(OrgKind.school),
                                  make_org(OrgKind.health), make_org(OrgKind.police))
    child = make_child("Paged", "Share", responsible_authority_id=la.id)
    enrol(child, school)
    involve(child, police, "missing-person record")
    people = {"worker": make_user(la, Role.social_worker), "manager": make_user(la, Role.social_worker),
              "dsl": make_user(school, Role.dsl), "officer": make_user(police, Role.police_officer)}
    return dict(la=la, school=school, health=health, police=police, child=child,
                secrets={name: secret for name, (_, secret) in people.items()},
                **{name: user for name, (user, _) in people.items()})


def pages_client(app, world: dict, who: str):
    """A client signed in as one of pages_world's people."""
    client = app.test_client()
    sign_in(client, world[who], world["secrets"][who])
    return client


def draft(w, **changes) -> service.ShareDraft:
    values = dict(
        child_id=w["child"].id, category=Category.risk_assessment, summary="Risk raised after third episode",
        content="Seen with older males near the station twice this week.", purpose="Plan a strategy discussion",
        recipient_org_ids=[w["school"].id, w["health"].id], source_kind=SourceKind.organisation,
        source_description="Missing team", obtained_how=ObtainedHow.return_interview,
        obtained_on=date.today() - timedelta(days=1),
        bases=BasisChoice(article_6="6(1)(e)", gateway="CA1989-s47"),
        consent_position=ConsentPosition.not_needed, no_consent_reason=NoConsentReason.significant_harm,
        rationale="Asking would alert the adults exploiting her.", authorised_by_user_id=w["manager"].id,
        family_told=False, family_not_told_reason="Telling the family now could place the child at risk.")
    values.update(changes)
    return service.ShareDraft(**values)
