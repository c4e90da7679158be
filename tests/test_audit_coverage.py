"""Hard to forget: every page is either marked as showing personal data, and then requesting it
writes an audit event, or listed here as showing none. A new page fails this test until someone
decides which it is."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from hub import db
from hub.db import utcnow
from hub.erasure import service as erasure
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.models.audit import AuditEvent, AuditFlag
from hub.models.auth import Organisation
from hub.models.missing import Classification, MissingEpisode, MissingFrom, RiskGrade
from hub.models.notifications import Notification
from hub.models.roles import OrgKind, Role
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, SourceKind
from hub.sharing import drafts
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice
from tests.factories import enrol, involve, make_child, make_org, make_user, sign_in
from tests.mace.samples import mace_samples
from tests.support.police_download import review_item_id

# Pages that show no personal data: forms to create things, settings, the home page, the
# integrity panel (sizes and hashes only), the public key and checkpoint.
NO_PERSONAL_DATA = {
    "core.home", "core.health", "auth.account", "auth.change_password",
    "admin.index", "admin.organisations", "admin.new_organisation",
    "admin.edit_organisation", "admin.sso_settings", "admin.new_user", "admin.new_child",
    "audit.integrity", "audit.public_key", "audit.checkpoint", "people.break_glass", "admin.gateways",
    "missing_import.index", "missing_import.template", "missing_import.batch", "missing_import.progress",
    "missing_import.mapping", "audit.verification_progress",
    # The returns' and annual report's forms (the downloads themselves are audited as exports).
    "reports_returns.returns_page", "reports_returns.annual",
    # The dashboard's counts, their downloads and the charts' stylesheet: figures, never a person.
    "reports.dashboard", "reports.data", "reports.chart_css",
    # Closures: organisation names and dates only (not who added them).
    "admin.closures", "notifications.closures",
    # Retention: a schedule, forms, and the review queue (record classes, numbers, dates and rules;
    # no child, no content). The holds page names children and is marked.
    "retention.index", "retention.keep", "retention.schedule", "retention.period", "retention.new_hold",
    "retention.lift",
    # Erasure: the request form, and an agency's decision form (the class and counts of its own
    # records; no child). The list, the request and the reply name the child and are marked.
    "erasure.new", "erasure.decide",
}
# Sign-in pages and downloads are covered elsewhere (downloads are audited as exports).
SKIP = {"static", "auth.sign_in", "auth.second_factor", "auth.enrol", "auth.sign_out", "sso.start", "sso.callback",
        "reports_returns.ssd_missing", "reports_returns.ssda903_missing"}


def _count() -> int:
    return db.session().scalar(select(func.count()).select_from(AuditEvent))


def _share(child, recipient_org, sender_org=None) -> int:
    """A share between two organisations (the sender a new local authority unless given), so the
    share pages have something to open."""
    la = sender_org or make_org(OrgKind.childrens_social_care)
    involve(child, la)
    role = Role.social_worker if sender_org is None else Role.mace_chair
    worker, _ = make_user(la, role)
    manager, _ = make_user(la, role)
    return sharing.create_share(worker, sharing.ShareDraft(
        child_id=child.id, category=Category.other, summary="s", content="c", purpose="p",
        recipient_org_ids=[recipient_org.id], source_kind=SourceKind.organisation, source_description="team",
        obtained_how=ObtainedHow.observation, obtained_on=date.today(),
        bases=BasisChoice(article_6="6(1)(e)", gateway="CA1989-s47"), consent_position=ConsentPosition.not_needed,
        no_consent_reason=NoConsentReason.legal_duty, rationale="r", authorised_by_user_id=manager.id,
        family_told=False, family_not_told_reason="risk")).id


def _episode(child) -> int:
    """A missing episode about the child (the walking user is the hub's DPO, who may read it)."""
    force = make_org(OrgKind.police)
    involve(child, force)
    officer, _ = make_user(force, Role.police_officer)
    return missing.record_episode(officer, child.id, missing_details.EpisodeDetails(
        police_reference="COVERAGE/1", reported_start=utcnow(), classification=Classification.missing,
        risk_grade=RiskGrade.medium, missing_from=MissingFrom.home)).id


def _officer_of(episode_id: int):
    episode = db.session().get(MissingEpisode, episode_id)
    return make_user(db.session().get(Organisation, episode.police_org_id), Role.police_officer)


def test_every_page_showing_personal_data_writes_an_audit_event(app):

    host = make_org(OrgKind.mace_host)
    school = make_org(OrgKind.school)
    # One person who can open every page: a hub DPO who is also an administrator.
    user, secret = make_user(host, Role.dpo, Role.hub_admin)
    child = make_child()
    enrol(child, school)
    with db.unit_of_work() as s:
        s.add(AuditFlag(kind="test", event_seq=0, reason="test flag"))
    flag_id = db.session().scalar(select(AuditFlag.id))
    share_id = _share(child, host)
    # Pages for the sender (correcting a share) need one the walking user's organisation sent.
    sent_id = _share(child, school, sender_org=host)
    per_page = {"sharing.correct": {"share_id": sent_id}}
    dsl, dsl_secret = make_user(school, Role.dsl)  # a key adult, told of the episode below
    episode_id = _episode(child)
    # An erasure request about a child no agency holds records about: every decision made, so its
    # reply opens too.
    samples_erasure = erasure.record_request(user, erasure.RequestDetails(make_child().id, date.today(), "mother",
                                                                          "everything"), date.today()).id
    samples = {"erasure_id": samples_erasure, "episode_id": episode_id, "child_id": child.id, "user_id": user.id,
               "org_id": school.id,
               "flag_id": flag_id, "enrolment_id": 1, "kind": "xlsx", "share_id": share_id,
               "item_id": review_item_id()}
    client = app.test_client()
    sign_in(client, user, secret)
    # Pages only a practitioner opens (the DPO may not record an episode): walked as a police officer.
    officer_client = app.test_client()
    officer, officer_secret = _officer_of(episode_id)
    sign_in(officer_client, officer, officer_secret)
    as_officer = {"missing.new", "sharing.new_abandon"}
    # "Delete this draft" shows what it would delete: a draft of the officer's own.
    per_page["sharing.new_abandon"] = {"draft": drafts.save(officer, child.id, None, {"summary": ["s"]})}
    # The school's inbox is walked as its key adult.
    dsl_client = app.test_client()
    sign_in(dsl_client, dsl, dsl_secret)
    as_dsl = {"notifications.index", "notifications.show"}
    samples["notification_id"] = db.session().scalar(select(Notification.id).where(Notification.user_id == dsl.id))
    # MACE pages are walked as the chair of a group holding the child (membership, not a role,
    # opens them: the DPO walking the rest is no member).
    chair, chair_secret = make_user(host, Role.mace_chair)
    samples |= mace_samples(chair, child)
    mace_client = app.test_client()
    sign_in(mace_client, chair, chair_secret)
    # The patterns page names MACE places and people to the groups' chairs (the DPO has no reports).
    as_chair = {"reports.patterns"}
    adapter = app.url_map.bind("localhost")
    checked = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in SKIP or "GET" not in rule.methods or rule.endpoint.startswith("api."):
            continue
        marked = getattr(view, "hub_personal_data", False)
        if not marked:
            assert rule.endpoint in NO_PERSONAL_DATA, (
                f"{rule.endpoint} is neither marked @personal_data nor listed as showing no personal data")
            continue
        missing = set(rule.arguments) - set(samples)
        assert not missing, f"add a sample value for {missing} ({rule.endpoint})"
        args = {k: samples[k] for k in rule.arguments} | per_page.get(rule.endpoint, {})
        url = adapter.build(rule.endpoint, args)
        before = _count()
        walker = (officer_client if rule.endpoint in as_officer else dsl_client if rule.endpoint in as_dsl
                  else mace_client if rule.endpoint.startswith("mace") or rule.endpoint in as_chair else client)
        response = walker.get(url)
        assert response.status_code == 200, f"{url} answered {response.status_code}"
        assert _count() > before, f"{url} shows personal data but wrote no audit event"
        checked.append(rule.endpoint)
    assert {"people.index", "people.show", "admin.enrolments", "admin.users"} <= set(checked)
