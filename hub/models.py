"""Imports every package's models so that Base.metadata knows every table (for Alembic)."""

# ruff: noqa: F401 - each import is for that effect: nothing here is used by name.
import hub.api.models
import hub.audit.models
import hub.auth.models
import hub.consent.models
import hub.mace.models
import hub.missing.models
import hub.notifications.models
import hub.people.models
import hub.sharing.models
