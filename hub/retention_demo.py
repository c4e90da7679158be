"""The demo's retention walk-through (fictional): records past their review date in two
agencies (Northbridge Police and Northbridge Council's children's social care), and one of them
under a legal hold, so a newcomer can walk review -> destroy -> verify; and an erasure request
(UK GDPR Art 17) the council received about a child the council and the police both hold records
about, so the newcomer can walk request -> each agency's decision -> reply.

Every demo record is written on the day the demo is loaded, so none is due by its rule: these are
shown as kept at an earlier (fictional) review until a date now past, which puts them back on the
queue as a real keep decision would.

Beside hub/demo.py, not in hub/retention/: it makes shares through hub.sharing, which itself
stands above the retention schedule (a share is scheduled for review when made)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from hub import db
from hub.db import london_today, unit_of_work, utcnow
from hub.erasure import service as erasure
from hub.models.auth import Organisation, User
from hub.models.missing import MissingEpisode
from hub.models.retention import HoldKind, RecordClass, RetentionRecord, RetentionStatus
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, ShareRecord, SourceKind
from hub.retention import scheduling, service
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice

KEPT_BEFORE = "Fictional demo: kept at an earlier review until this date"
#: (demo reference of the share, index of the child: one the council is responsible for)
SHARES = [("DEMO-RET-1", 2), ("DEMO-RET-2", 5)]
HELD = "DEMO-RET-2"
#: The erasure request's child: the council's, with the force's episode DEMO-MP-0003, and a share
#: of the council's written for the demo (not due: an erasure does not wait for a review date).
ERASURE_CHILD = 11
ERASURE_SHARE = "DEMO-ERASE-1"


def load(orgs: dict[str, Organisation], children: list[int], domain: str) -> None:
    if db.session().scalar(select(ShareRecord.id).where(ShareRecord.evidence_reference == HELD)):
        return  # loaded before
    person = {local: db.session().scalar(select(User).where(User.email == f"{local}@{domain}"))
              for local in ("social.worker", "missing.team", "council.dpo", "police.dpo")}
    shares = {ref: _share(person["social.worker"], person["missing.team"], children[index], orgs["NBNHS"], ref)
              for ref, index in SHARES}
    episode_id = db.session().scalar(select(MissingEpisode.id).where(MissingEpisode.police_reference == "DEMO-MP-0003"))
    due = [(RecordClass.social_care_record, s.id, person["council.dpo"]) for s in shares.values()]
    if episode_id is not None:
        due.append((RecordClass.police_record, episode_id, person["police.dpo"]))
    _kept_until(due, date.today() - timedelta(days=30))
    service.set_hold(person["council.dpo"], service.HoldDetails(
        HoldKind.subject_access, "Fictional demo: a subject access request from the child's parent, due next month",
        child_id=shares[HELD].child_id))
    # The MACE demo's meetings, items, actions and outcomes and any consent written straight into
    # their tables get their review dates as if written by the services.
    with unit_of_work():
        scheduling.schedule_existing()
    _share(person["social.worker"], person["missing.team"], children[ERASURE_CHILD], orgs["NBNHS"], ERASURE_SHARE)
    erasure.record_request(person["council.dpo"], erasure.RequestDetails(
        children[ERASURE_CHILD], london_today() - timedelta(days=3), "Fictional demo: the young person herself",
        "Fictional demo: to erase what the council and the police hold about her missing episodes"), london_today())


def _share(worker: User, manager: User, child_id: int, recipient: Organisation, reference: str) -> ShareRecord:
    return sharing.create_share(worker, sharing.ShareDraft(
        child_id=child_id, category=Category.risk_assessment, summary="Fictional demo: a risk assessment summary",
        content="Fictional demo content.", purpose="To plan the child's support (fictional)",
        recipient_org_ids=[recipient.id], source_kind=SourceKind.organisation, source_description="Missing team",
        obtained_how=ObtainedHow.observation, obtained_on=date.today(), evidence_reference=reference,
        bases=BasisChoice(article_6="6(1)(e)", gateway="CA1989-s47"), consent_position=ConsentPosition.not_needed,
        no_consent_reason=NoConsentReason.legal_duty, rationale="Fictional demo rationale",
        authorised_by_user_id=manager.id, family_told=True, family_told_on=date.today()))


def _kept_until(records: list[tuple[RecordClass, int, User]], until: date) -> None:
    with unit_of_work() as s:
        for record_class, record_id, dpo in records:
            record = s.scalar(select(RetentionRecord).where(RetentionRecord.record_class == record_class,
                                                            RetentionRecord.record_id == record_id))
            record.status, record.review_on, record.keep_reason = RetentionStatus.kept, until, KEPT_BEFORE
            record.decided_by_user_id, record.decided_at = dpo.id, utcnow()
