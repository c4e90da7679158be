"""Whether a legal hold covers a record: one clause, used by every path that could destroy
(approving in the queue, the worker, the command line, and the destroy step itself)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select

from hub import db
from hub.models.retention import LegalHold, RecordClass, RetentionRecord


class Held(Exception):
    """The record is under a standing legal hold: nothing destroys it."""


def standing():
    """Holds not lifted."""
    return LegalHold.lifted_at.is_(None)


def held() -> ColumnElement[bool]:
    """A standing hold of the record's owning agency covers it: same child (or any), same class
    (or any)."""
    return exists().where(standing(), LegalHold.organisation_id == RetentionRecord.owning_org_id,
                          or_(LegalHold.child_id.is_(None), LegalHold.child_id == RetentionRecord.child_id),
                          or_(LegalHold.record_class.is_(None), LegalHold.record_class == RetentionRecord.record_class))


def is_held(record: RetentionRecord) -> bool:
    return db.session().scalar(select(held()).where(RetentionRecord.id == record.id)) is True


def class_held(record_class: RecordClass) -> bool:
    """A standing hold names the class, in any organisation: operational data is the hub's, not
    one agency's, so any DPO's hold on it stops its purge."""
    return db.session().scalar(select(exists().where(standing(), LegalHold.record_class == record_class))) is True
