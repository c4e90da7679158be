"""One way to load an object for a user: the list's rule plus the id, or the refusal.

Each kind of object has one `Rule`. A list of that kind filters with `visible_clause(user, Model)`;
one object's page asks `load_or_refuse(user, Model, id)`, which applies the same rule to that
object. When nothing comes back (no such object, or one the user may not see: the same answer
for both), it writes the refusal to the audit log in its own transaction, naming the object and
its child, and raises NotFound (a 404). So a page can never open what its list would not show,
and every refusal reads the same in the log.

Two shapes of rule:
- a clause on the object's own columns (shares, notifications, downloads): the list filters with
  it, the page looks for the id under it;
- a role test and a child (episodes, consent records): the list keeps rows whose child is within
  the user's reach (`visible_child_ids`), the page asks `child_access` for the object's child:
  the same relationships (hub.permissions.children), for one child instead of all of them, so a
  page costs one indexed probe per relationship rather than the user's whole reach.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import ColumnElement, select, true

from hub import db
from hub.audit import service as audit
from hub.errors import NotFound
from hub.models.auth import User
from hub.models.consent import ConsentRecord
from hub.models.erasure import ErasureRequest
from hub.models.missing import ImportBatch, ImportReviewItem, MissingEpisode
from hub.models.notifications import Notification
from hub.models.people import Child
from hub.models.retention import LegalHold, RetentionRecord
from hub.models.sharing import ShareRecord
from hub.permissions.children import child_access, child_visible, is_object_id
from hub.permissions.erasure import erasure_request_visible
from hub.permissions.notifications import notification_visible
from hub.permissions.retention import legal_hold_visible, retention_record_visible
from hub.permissions.roles import (
    READ,
    active,
    is_police_officer,
    may_administer,
    may_read_episodes,
    may_record_episodes,
    may_share,
)
from hub.permissions.shares import share_sent_by, share_visible


def _download_visible(user: User | None, model, _action: str):
    """A force's uploads and review rows: its officers, and administrators."""
    if may_administer(user):
        return true()
    if is_police_officer(user):
        return model.police_org_id == user.organisation_id
    return ~true()


@dataclass(frozen=True)
class Rule:
    """How one kind of object is seen. Either `clause(user, model, action)`, or `allowed(user,
    action)` with `child_column`: the roles that may see the kind, of a child the user may see."""

    object_type: str
    clause: Callable[[User | None, type, str], ColumnElement[bool]] | None = None
    allowed: Callable[[User | None, str], bool] | None = None
    child_column: str | None = None


def _episode_roles(user: User | None, action: str) -> bool:
    return may_read_episodes(user) if action == READ else may_record_episodes(user)


def _consent_roles(user: User | None, action: str) -> bool:
    """Consent records: read by anyone who may see the child; recorded and withdrawn by those who
    may share about them."""
    return active(user) if action == READ else may_share(user)


def _share_clause(user: User | None, _model, action: str):
    return share_visible(user) if action == READ else share_sent_by(user)


def _notification_clause(user: User | None, _model, _action: str):
    return notification_visible(user)


RULES: dict[type, Rule] = {
    ShareRecord: Rule("share", clause=_share_clause),
    Notification: Rule("notification", clause=_notification_clause),
    ImportBatch: Rule("import-batch", clause=_download_visible),
    ImportReviewItem: Rule("import-review-item", clause=_download_visible),
    MissingEpisode: Rule("missing-episode", allowed=_episode_roles, child_column="child_id"),
    ConsentRecord: Rule("consent", allowed=_consent_roles, child_column="child_id"),
    RetentionRecord: Rule("retention-record", clause=retention_record_visible),
    LegalHold: Rule("legal-hold", clause=legal_hold_visible),
    ErasureRequest: Rule("erasure-request", clause=erasure_request_visible),
}


def _child_of(model, object_id: int) -> int | None:
    """The child of an object refused, so the refusal names it (who tried to reach this child)."""
    if model is Notification:
        return db.session().scalar(select(MissingEpisode.child_id).join(
            Notification, Notification.episode_id == MissingEpisode.id).where(Notification.id == object_id))
    if hasattr(model, "child_id"):
        return db.session().scalar(select(model.child_id).where(model.id == object_id))
    return None


def visible_clause(user: User | None, model, action: str = READ) -> ColumnElement[bool]:
    """The clause every list of this kind of object filters with (CHANGE: those the user may act
    on, where that differs)."""
    rule = RULES[model]
    if rule.clause is not None:
        return rule.clause(user, model, action)
    if not rule.allowed(user, action):
        return ~true()
    return child_visible(user, getattr(model, rule.child_column))


def episode_visible(user: User | None, action: str = READ) -> ColumnElement[bool]:
    """The clause every list of missing episodes filters with."""
    return visible_clause(user, MissingEpisode, action)


def refuse(user: User | None, object_type: str, object_id, child_id: int | None = None,
           action: str = READ) -> NoReturn:
    """Record the refused access, then answer 404: the same as for a record that does not exist."""
    audit.record_refusal(user, object_type, object_id, child_id, action=action)
    raise NotFound(f"{object_type} not found")


def _load(user: User | None, model, object_id, rule: Rule, action: str, options):
    if not is_object_id(object_id) or not active(user):
        return None
    if rule.clause is not None:
        return db.session().scalar(select(model).where(model.id == object_id, rule.clause(user, model, action))
                                   .options(*options))
    if not rule.allowed(user, action):
        return None
    obj = db.session().get(model, object_id, options=options)
    if obj is None or not child_access(user, getattr(obj, rule.child_column)):
        return None
    return obj


def load_or_refuse(user: User | None, model, object_id, *, action: str = READ, object_type: str | None = None,
                   options=()):
    """The object, when the user may see it (`action` READ) or act on it (CHANGE or any other
    action); else the refusal audited and a 404."""
    rule = RULES[model]
    obj = _load(user, model, object_id, rule, action, options)
    if obj is None:
        valid = is_object_id(object_id)
        refuse(user, object_type or rule.object_type, object_id, _child_of(model, object_id) if valid else None,
               action)
    return obj


def load_child_or_refuse(user: User | None, child_id, *, action: str = READ, options=()) -> Child:
    """A child, through `child_access` (the relationships every list of children filters with,
    asked for this one child): the basis is what the caller's audit event records."""
    valid = is_object_id(child_id)
    if not valid or not child_access(user, child_id):
        refuse(user, "child", child_id, child_id if valid else None, action)
    return db.session().get(Child, child_id, options=options)
