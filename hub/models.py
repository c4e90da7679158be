"""Imports every package's models so that Base.metadata knows every table (for Alembic)."""

from hub.audit.models import (  # noqa: F401
    AuditEvent, AuditFlag, AuditFlagEvent, AuditFlagScan, AuditHead, AuditNode, AuditVerification, SignedTreeHead,
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
from hub.sharing.models import LocalGateway, ShareAccess  # noqa: F401,E402
from hub.missing.models import (  # noqa: F401,E402
    ColumnMapping, ImportBatch, ImportReviewItem, MissingEpisode, PhilomenaProfile, ProfileRelease, RiskGradeChange,
)
from hub.notifications.models import DeliveryAttempt, Notification, OutboxMessage, SchoolClosure  # noqa: F401,E402
from hub.notifications.models import NotificationReply  # noqa: F401,E402
from hub.api.models import ApiClient, ApiToken, IdempotencyRecord  # noqa: F401,E402
