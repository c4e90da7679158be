"""School notifications, Operation Encompass style: who is told, by when, and what they did.

A notification is a small state machine per school (the copies of one message to one school share
a `group_key`):

    waiting --open--> opened --acknowledge (or reply to the police)--> acknowledged
       \\____________ deadline passed, not acknowledged ____________> escalated (still waiting)

The package's parts:
- `routing`: who is told of an episode, and by when;
- `issuing`: telling the schools (`notify_episodes`), the one writer of notifications;
- `inbox`: the key adult's inbox, opening and acknowledging; who was told and what they did;
- `escalation`: a message past its deadline goes to the authority's contact and the deputies;
- `replies`: a key adult's reply to the police, a share record made by the sharing service;
- `still_missing`: the daily "still missing" notification;
- `outbox` and `delivery`: e-mails queued in the transaction and sent after it commits;
- `calendar`: school days and deadlines; `closures`: term dates and INSET days it skips.

This module holds the hub's public address for the links in e-mails (every package's e-mails use
it), and imports nothing of the package.
"""

from __future__ import annotations

from hub.extensions import hub_settings


def base_url() -> str:
    """The hub's public address (HUB_BASE_URL), for the link in e-mails."""
    return hub_settings().base_url
