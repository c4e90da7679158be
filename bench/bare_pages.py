"""The baseline for bench/page_throughput.py: a bare Flask + SQLAlchemy app that reads the same
rows as the hub's audited pages, from the same database, and renders them in a small template;
no sign-in, no session, no permission check, no audit event, no layout.

- `/children/<id>`: the child with its identifiers, the newest page of its shares (50, with the
  total count and the sender's name), its consent records and its missing episodes.
- `/sharing?org=ID`: "shared with us" and "shared by us", 100 each, with the children they name.
- `/notifications?user=ID`: the user's notifications (up to 200), each with its episode, child and force.

Serve with `gunicorn -w 2 bench.bare_pages:app` and the hub's HUB_DATABASE_URL, HUB_FIELD_KEYS
and HUB_BLIND_INDEX_KEY (the names and summaries are decrypted, as the hub's pages decrypt them).
"""

from __future__ import annotations

import base64
import os

from flask import Flask, render_template_string, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, lazyload, selectinload

from hub import crypto
from hub.db import make_engine
from hub.models.auth import Organisation
from hub.models.consent import ConsentRecord
from hub.models.missing import MissingEpisode
from hub.models.notifications import Notification
from hub.models.people import Child
from hub.models.sharing import RecipientStatus, ShareRecipient, ShareRecord

app = Flask(__name__)
_engine = []


def engine():
    """The database, opened on first use (so that `python -m bench` may import this module)."""
    if not _engine:
        # The hub's column types decrypt with the keys of the app in hand: this one's.
        app.extensions["hub_crypto"] = crypto.Keyring.of(os.environ["HUB_FIELD_KEYS"].split(","),
                                                         base64.urlsafe_b64decode(os.environ["HUB_BLIND_INDEX_KEY"]))
        _engine.append(make_engine(os.environ["HUB_DATABASE_URL"]))
    return _engine[0]

CHILD = """<h1>{{ child.given_name }} {{ child.family_name }}</h1><p>{{ child.date_of_birth_enc }}</p>
<ul>{% for i in child.identifiers %}<li>{{ i.kind.value }} {{ i.value }}</li>{% endfor %}</ul>
<p>{{ total }} shares</p><table>{% for share, sender in shares %}<tr><td>{{ share.created_at }}</td>
<td>{{ sender }}</td><td>{{ share.category.value }}</td><td>{{ share.summary }}</td></tr>{% endfor %}</table>
<ul>{% for c in consents %}<li>{{ c.id }}</li>{% endfor %}</ul>
<ul>{% for e in episodes %}<li>{{ e.police_reference }} {{ e.reported_start }}</li>{% endfor %}</ul>"""

SHARING = """{% for name, shares in (("Shared with us", received), ("Shared by us", sent)) %}<h2>{{ name }}</h2>
<table>{% for s in shares %}<tr><td>{{ s.created_at }}</td><td>{{ names.get(s.child_id, "") }}</td>
<td>{{ s.category.value }}</td><td>{{ s.summary }}</td></tr>{% endfor %}</table>{% endfor %}"""

INBOX = """<table>{% for n, c, e, p in rows %}<tr><td>{{ n.created_at }}</td>
<td>{{ c.given_name }} {{ c.family_name }}</td><td>{{ e.police_reference }}</td><td>{{ p.name }}</td>
<td>{{ n.deadline_at }}</td></tr>{% endfor %}</table>"""


@app.route("/health")
def health():
    return "ok"


@app.route("/children/<int:child_id>")
def child_page(child_id: int):
    with Session(engine()) as s:
        child = s.scalar(select(Child).where(Child.id == child_id).options(selectinload(Child.identifiers)))
        rows = s.execute(select(ShareRecord, Organisation.name, func.count().over())
                         .join(Organisation, Organisation.id == ShareRecord.sender_org_id)
                         .where(ShareRecord.child_id == child_id)
                         .order_by(ShareRecord.created_at.desc(), ShareRecord.id.desc()).limit(50)).all()
        consents = list(s.scalars(select(ConsentRecord).where(ConsentRecord.child_id == child_id)
                                  .order_by(ConsentRecord.id.desc())))
        episodes = list(s.scalars(select(MissingEpisode).where(MissingEpisode.child_id == child_id)
                                  .order_by(MissingEpisode.reported_start.desc())))
        return render_template_string(CHILD, child=child, shares=[(r[0], r[1]) for r in rows],
                                      total=rows[0][2] if rows else 0, consents=consents, episodes=episodes)


@app.route("/sharing")
def sharing_page():
    org = request.args.get("org", type=int)
    with Session(engine()) as s:
        received = list(s.scalars(
            select(ShareRecord).join(ShareRecipient, ShareRecipient.share_id == ShareRecord.id)
            .where(ShareRecipient.organisation_id == org, ShareRecipient.status != RecipientStatus.revoked,
                   ShareRecord.shared.is_(True))
            .order_by(ShareRecipient.share_id.desc()).limit(100)))
        sent = list(s.scalars(select(ShareRecord).where(ShareRecord.sender_org_id == org)
                              .order_by(ShareRecord.created_at.desc(), ShareRecord.id.desc()).limit(100)))
        ids = sorted({x.child_id for x in received + sent if x.child_id is not None})
        names = {c.id: f"{c.given_name} {c.family_name}" for c in s.scalars(select(Child).where(Child.id.in_(ids))
                                                                          .options(lazyload(Child.identifiers)))}
        return render_template_string(SHARING, received=received, sent=sent, names=names)


@app.route("/notifications")
def inbox_page():
    user = request.args.get("user", type=int)
    police = aliased(Organisation)
    with Session(engine()) as s:
        rows = s.execute(
            select(Notification, Child, MissingEpisode, police)
            .join(MissingEpisode, MissingEpisode.id == Notification.episode_id)
            .join(Child, Child.id == MissingEpisode.child_id)
            .join(police, police.id == MissingEpisode.police_org_id)
            .where(Notification.user_id == user)
            .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(200)).all()
        return render_template_string(INBOX, rows=rows)
