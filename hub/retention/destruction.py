"""Destroying what was approved, and the certificate that says so.

    approved (by the owning agency's DPO) --worker/CLI, not held--> destroyed + certificate

`destroy_record` is the one step that destroys a record, whatever asks: it refuses a record under
a standing legal hold even if its approval came first. When it destroys the child's last record,
it crypto-shreds the child (hub.retention.shredding: the child's data key, search indexes and own
row go, so no backup can be read for the child again); the callers stay as they are.
`destroy_approved` is the worker's and the command line's: it destroys, in one transaction per
agency and class, and writes one **destruction certificate** per (agency, class, rule, approver) as
an audit event: the class, how many, the rule, who approved and when. The certificate names no
child and no record's content; the retention rows stay, status destroyed, as the register of what was destroyed.

Operational data (e-mails in the outbox) is destroyed on its schedule in days without a review of
each e-mail: only sent or failed e-mails, counted from when they were written, unless a standing
hold names the class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from operator import attrgetter

from sqlalchemy import delete, select, update

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.models.auth import Organisation
from hub.models.mace import MaceIntelligenceSubject, MaceLink
from hub.models.missing import ImportReviewItem, MissingEpisode, ProfileRelease, RiskGradeChange
from hub.models.notifications import DeliveryAttempt, MessageStatus, Notification, NotificationReply, OutboxMessage
from hub.models.retention import RecordClass, RetentionRecord, RetentionStatus
from hub.models.roles import OrgKind
from hub.models.sharing import ShareAccess, ShareRecipient, ShareRecord
from hub.retention import records, rules, shredding
from hub.retention.holds import Held, class_held, held, is_held
from hub.retention.scheduling import periods_of

CERTIFICATE = "destruction-certificate"
#: One certificate per agency, class, rule and approver (the order _approved reads them in).
_CERTIFIED_TOGETHER = attrgetter("owning_org_id", "record_class", "rule", "decided_by_user_id")


@dataclass(frozen=True)
class Certificate:
    organisation_id: int | None
    record_class: RecordClass
    count: int
    rule: str
    approved_by_user_id: int | None


def destroy_record(record: RetentionRecord, now: datetime, shred: bool = True) -> None:
    """Destroy one record and everything that is only part of it, in the caller's transaction;
    then the child, if that was the child's last record (`shred`: a batch shreds its children
    together, once, after its records)."""
    if is_held(record):
        raise Held(f"retention record {record.id} is under a legal hold")
    if record.record_class == RecordClass.police_record:
        _destroy_episode(record.record_id)
    elif record.record_class in records.DESTROYERS:
        records.DESTROYERS[record.record_class](record.record_id)
    elif record.record_class in rules.OPERATIONAL:
        raise ValueError("operational data is purged by age (hub.retention.purge), not one by one")
    else:  # every other class is a share record (hub.retention.rules.share_class)
        _destroy_share(record.record_id)
    record.status, record.destroyed_at, record.keep_reason = RetentionStatus.destroyed, now, None
    if shred and record.child_id is not None:
        shredding.shred_child(record.child_id, now)


def _destroy_share(share_id: int) -> None:
    """A share and its parts (recipients, access rows, MACE subjects, a profile release or a
    school's reply that it carried); what merely pointed at it forgets it."""
    s = db.session()
    for model in (ShareAccess, ShareRecipient, MaceIntelligenceSubject, ProfileRelease, NotificationReply):
        s.execute(delete(model).where(model.share_id == share_id))
    s.execute(update(MaceLink).where(MaceLink.share_id == share_id).values(share_id=None))
    s.execute(update(MissingEpisode).where(MissingEpisode.return_interview_share_id == share_id)
              .values(return_interview_share_id=None))
    s.execute(update(ShareRecord).where(ShareRecord.supersedes_id == share_id).values(supersedes_id=None))
    s.execute(update(ShareRecord).where(ShareRecord.origin_share_id == share_id).values(origin_share_id=None))
    s.execute(delete(ShareRecord).where(ShareRecord.id == share_id))


def _destroy_episode(episode_id: int) -> None:
    """A missing episode and its parts: its risk history, the school notifications it raised and
    their replies, its profile releases; a download's review row and an e-mail forget it."""
    s = db.session()
    notifications = select(Notification.id).where(Notification.episode_id == episode_id).scalar_subquery()
    s.execute(update(OutboxMessage).where(OutboxMessage.notification_id.in_(notifications)).values(notification_id=None))
    for model in (NotificationReply, ProfileRelease, RiskGradeChange, Notification):
        s.execute(delete(model).where(model.episode_id == episode_id))
    s.execute(update(ImportReviewItem).where(ImportReviewItem.episode_id == episode_id).values(episode_id=None))
    s.execute(delete(MissingEpisode).where(MissingEpisode.id == episode_id))


def _certify(certificate: Certificate, approved_from: datetime | None, approved_to: datetime | None) -> None:
    """The certificate as an audit event: no child, no record id, no content."""
    audit.record("destroy", actor=None, object_type=CERTIFICATE, object_id=certificate.record_class.value, detail={
        "organisation": certificate.organisation_id, "record_class": certificate.record_class.value,
        "count": certificate.count, "rule": certificate.rule, "approved_by": certificate.approved_by_user_id,
        "approved_from": audit.rfc3339(approved_from) if approved_from else None,
        "approved_to": audit.rfc3339(approved_to) if approved_to else None})


def _approved(batch: int, waiting: set[int]) -> list[RetentionRecord]:
    query = (select(RetentionRecord).where(RetentionRecord.status == RetentionStatus.approved, ~held(),
                                           RetentionRecord.id.not_in(waiting))
             .order_by(RetentionRecord.owning_org_id, RetentionRecord.record_class, RetentionRecord.rule,
                       RetentionRecord.decided_by_user_id, RetentionRecord.id).limit(batch))
    session = db.session()
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # two workers never take the same record
    return list(session.scalars(query))


def destroy_approved(now: datetime | None = None, batch: int = 500) -> list[Certificate]:
    """Destroy every approved record not under a hold, batch by batch, a certificate per group."""
    now = now or utcnow()
    certificates: list[Certificate] = []
    waiting: set[int] = set()  # refused by a hold on what they would take with them: left approved
    while True:
        with unit_of_work():
            records = _approved(batch, waiting)
            if not records:
                break
            destroyed = []
            for (org, record_class, rule, approver), group in groupby(records, _CERTIFIED_TOGETHER):
                group = [record for record in group if _destroyed_unless_held(record, now, waiting)]
                if not group:
                    continue
                certificate = Certificate(org, record_class, len(group), rule, approver)
                _certify(certificate, min(r.decided_at for r in group), max(r.decided_at for r in group))
                certificates.append(certificate)
                destroyed += group
            shredding.shred_children({r.child_id for r in destroyed if r.child_id is not None}, now)
    return certificates


def _destroyed_unless_held(record: RetentionRecord, now: datetime, waiting: set[int]) -> bool:
    """Destroy one approved record; a hold on something it would take with it (a person's agenda
    items) refuses it before anything is changed, and it waits, approved, until the hold is lifted,
    while the rest of the batch goes on (one refusal must not stop every destruction)."""
    try:
        destroy_record(record, now, shred=False)
    except Held:
        waiting.add(record.id)
        return False
    return True


def purge_outbox(now: datetime | None = None) -> Certificate | None:
    """Destroy e-mails in the outbox past their days (sent or failed, never pending), unless held.
    The period is the hub's host's setting for the class (the hub's own operational data)."""
    now = now or utcnow()
    if class_held(RecordClass.outbox_email):
        return None
    session = db.session()
    host = session.scalar(select(Organisation.id).where(Organisation.kind == OrgKind.mace_host)
                          .order_by(Organisation.id).limit(1))
    period = (periods_of({(host, RecordClass.outbox_email)})[(host, RecordClass.outbox_email)] if host
              else rules.DEFAULTS[RecordClass.outbox_email].period)
    before = now - timedelta(days=period)
    with unit_of_work():
        old = select(OutboxMessage.id).where(OutboxMessage.status.in_((MessageStatus.sent, MessageStatus.failed)),
                                             OutboxMessage.created_at < before)
        session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.message_id.in_(old)))
        count = session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(old))).rowcount
        if not count:
            return None
        certificate = Certificate(host, RecordClass.outbox_email, count, rules.describe(RecordClass.outbox_email,
                                                                                         period), None)
        _certify(certificate, None, None)
    return certificate
