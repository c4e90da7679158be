"""A force's column headings: the police download's template, or the headings an administrator sets
for a force whose export differs from it."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.errors import Invalid, NotFound
from hub.missing.imports.download import COLUMN_BY_FIELD, check_mapping, headings_for, template_bytes
from hub.models.auth import Organisation, User
from hub.models.missing import ColumnMapping
from hub.models.roles import OrgKind
from hub.permissions import may_administer

# --- a force's column headings --------------------------------------------------------------------------

def _stored_mapping(police_org_id: int) -> dict[str, str]:
    stored = db.session().scalar(select(ColumnMapping.mapping).where(ColumnMapping.police_org_id == police_org_id))
    return json.loads(stored) if stored else {}


def headings(police_org_id: int) -> dict[str, str]:
    """Field -> heading for the force: its own where set, else the template's."""
    return headings_for(_stored_mapping(police_org_id))


def _require_force(police_org_id: int) -> Organisation:
    force = db.session().get(Organisation, police_org_id)
    if force is None or force.kind != OrgKind.police:
        raise Invalid({"police_org_id": "Choose a police force"})
    return force


def mapping_of(actor: User, police_org_id: int) -> dict[str, str]:
    if not may_administer(actor):
        audit.record_refusal(actor, "import-column-mapping", police_org_id)
        raise NotFound("mapping not found")
    _require_force(police_org_id)
    return headings(police_org_id)


def save_mapping(actor: User, police_org_id: int, given: dict[str, str]) -> ColumnMapping:
    """An administrator sets the headings of a force whose export differs from the template.
    An optional column left empty means the force's export does not have it."""
    if not may_administer(actor):
        audit.record_refusal(actor, "import-column-mapping", police_org_id, action="update")
        raise NotFound("mapping not found")
    _require_force(police_org_id)
    cleaned = {name: re.sub(r"\s+", " ", (given.get(name) or "")).strip() for name in COLUMN_BY_FIELD}
    errors = check_mapping(cleaned)
    if errors:
        raise Invalid(errors)
    with unit_of_work() as s:
        mapping = s.scalar(select(ColumnMapping).where(ColumnMapping.police_org_id == police_org_id))
        created = mapping is None
        if created:
            mapping = ColumnMapping(police_org_id=police_org_id, mapping="{}")
            s.add(mapping)
        old = json.loads(mapping.mapping or "{}")
        mapping.mapping = json.dumps(cleaned, sort_keys=True)
        mapping.updated_by_user_id = actor.id
        s.flush()
        changed = sorted(name for name in cleaned if headings_for(old).get(name) != cleaned[name])
        audit.record("create" if created else "update", actor=actor, object_type="import-column-mapping",
                     object_id=mapping.id, detail={"force": police_org_id, "changed": changed})
    return mapping


def template(police_org_id: int | None = None) -> bytes:
    """The blank download: the hub's headings, or a force's own."""
    return template_bytes(headings(police_org_id) if police_org_id else None)
