"""Every table of the hub, one module per feature, one layer below the access rules (hub/permissions/):
the rules read every table, and every feature's service reads the rules, so the tables cannot live
in the feature packages without a circle. Importing this package registers every table on
Base.metadata (for Alembic, and for the key rotation that finds every encrypted column); the
vocabulary the tables use (organisation kinds and roles: roles.py) stands beside them."""

# ruff: noqa: F401 - each import is for that effect: nothing here is used by name.
import hub.models.api
import hub.models.audit
import hub.models.auth
import hub.models.child_keys  # the child-scoped columns' write hooks
import hub.models.consent
import hub.models.destruction_indexes
import hub.models.erasure
import hub.models.mace
import hub.models.missing
import hub.models.notifications
import hub.models.people
import hub.models.retention
import hub.models.sharing
