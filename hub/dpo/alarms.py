"""The e-mail that tells the hub's DPOs of an audit log alarm (hub.audit.alarms decides when; this
says to whom and what). create_app hands it to the log: the log stands below the access rules
that know who the DPOs are and the outbox that queues an e-mail."""

from __future__ import annotations

from hub.audit.alarms import EMAIL_SUBJECT, KINDS
from hub.notifications import outbox
from hub.notifications.service import base_url
from hub.permissions import hub_dpos


def email_hub_dpos(kind: str, subject: str) -> None:
    """One e-mail to each active hub DPO, in the alarm's own transaction (the outbox path)."""
    recipients = sorted({u.email for u in hub_dpos()})
    base = base_url()
    what = KINDS[kind] + (f" ({subject})" if subject else "")
    body = (f"The safeguarding hub raised an alarm about its audit log: {what}.\n\n"
            f"See the audit log integrity page: {base}/audit/integrity\n\n"
            "This e-mail holds no personal data. Sign in to see the details.\n")
    outbox.queue([outbox.Email(address, EMAIL_SUBJECT, body) for address in recipients])
