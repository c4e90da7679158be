"""Imports every package's models so that Base.metadata knows every table (for Alembic)."""

from hub.audit.models import (  # noqa: F401
    AuditEvent, AuditFlag, AuditHead, AuditNode, AuditVerification, SignedTreeHead,
)
from hub.auth.models import (  # noqa: F401
    Organisation, RecoveryCode, SignInAttempt, SsoIdentity, SsoProvider, User, UserRole, UserSession,
)
from hub.mace.models import MaceAgendaChild, MaceGroup, MaceMembership  # noqa: F401
from hub.people.models import (  # noqa: F401
    AgencyInvolvement, BreakGlassGrant, Child, ChildIdentifier, ChildNameToken, Enrolment,
)
from hub.consent.models import ConsentRecipient, ConsentRecord  # noqa: F401,E402
from hub.sharing.models import ShareRecipient, ShareRecord  # noqa: F401,E402
