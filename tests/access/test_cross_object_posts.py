"""Cross-object POSTs: every form route that names an object, posted with a valid CSRF token by a
near-insider on an object that the policy (tests/access/policy.py) does not let them see: refused
(403 or 404), the refusal audited against them, and nothing changed in the database.

"May not see" implies "may not change", so the oracle needs no rule per form: for each object the
route names, the near-insiders who may not see it (a colleague never named, a former member, another
force, another school, a chair of another group, an organisation's DPO, the analyst) each post.
The routes come from `app.url_map`; one naming an argument without a pool here fails
`test_every_form_route_naming_an_object_is_posted`.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import date

import pytest
from sqlalchemy import func, select, text

from hub import db
from hub.db import Base
from hub.models.audit import AuditEvent
from hub.models.consent import ConsentRecord
from hub.models.mace import MaceAgendaItem, MaceMeeting, MaceMember
from hub.models.notifications import Notification
from hub.models.people import Enrolment
from hub.models.retention import RetentionRecord
from tests.access import policy
from tests.factories import csrf_token

#: Those who post: a near-insider for every rule, and the analyst.
NEAR = ["chair", "former", "off1", "off2", "nurse2", "dsl_b", "sw_p", "mace_unnamed", "chair2", "dpo_a", "analyst"]
#: Children posted about: MACE intelligence's child, a force's child with two authorities, a
#: decision not to share's child, the group's child, a pupil of school C.
CHILDREN = ["intel", "episode", "decided", "mace", "roll_c"]
#: Tables a refused request may write: the audit log and its tree, the session's last use.
MAY_CHANGE = {"user_session", "sign_in_attempt"}
#: Form routes with no object of someone else in them (what the user's roles allow is tested with
#: their pages), or an object that is a setting of the hub's (administrators' pages: a non-
#: administrator is refused by role, tests/test_admin.py).
NO_OBJECT = {"people.break_glass",  # the way in to a child one cannot see (tests/test_people.py)
             "missing_import.index", "missing_import.mapping", "notifications.closures", "audit.close_flags",
             "audit.verify", "admin.new_child", "admin.closures", "admin.gateways", "admin.new_organisation",
             "admin.new_user",
             "retention.period"}  # the period of the DPO's own organisation: a setting, no one else's object


def _sees(user: str, kind: str, name: str, extra: dict) -> bool:
    """Whether the policy lets the user see the object (the read oracle, per kind)."""
    if kind == "child":
        return name in policy.child_record(user)
    if kind == "share":
        return policy.share_whole(user, name)
    if kind in ("group",):
        return policy.mace_member(user, name)
    if kind in ("meeting", "item", "action", "location", "person"):
        return policy.mace_member(user, "group")
    if kind == "membership":
        return policy.mace_member(user, extra[name])
    if kind == "episode":
        return policy.episode_reader(user, {"roll_a_f2": "roll_a"}.get(name, name))
    if kind == "notification":
        return policy.notification_reader(user, extra[name])
    if kind in ("review_item", "batch"):
        return policy.download_reader(user)
    if kind == "consent":
        return "roll_a" in policy.child_record(user)
    if kind in ("org", "user", "enrolment"):
        return "hub_admin" in policy.ROLES[user]  # an administrator's object
    if kind == "retention":
        return policy.retention_keeper(user, name)
    if kind == "erasure":
        return user in policy.ERASURE_SEES
    raise KeyError(kind)


def _pools(world) -> tuple[dict, dict]:
    s = db.session()
    group_of_meeting = dict(s.execute(select(MaceMeeting.id, MaceMeeting.group_id)).all())
    groups = {world.group.id: "group", world.group2.id: "group2"}
    members = {f"membership-{i}": groups[g] for i, g in s.execute(select(MaceMember.id, MaceMember.group_id))}
    addressed = {n.id: next((k for k, u in world.users.items() if u.id == n.user_id), None)
                 for n in s.scalars(select(Notification))}
    extra = {**members, **{f"notification-{i}": who for i, who in addressed.items()}}
    items = {i: group_of_meeting[m] for i, m in s.execute(select(MaceAgendaItem.id, MaceAgendaItem.meeting_id))}
    owners = {o.id: k for k, o in world.orgs.items()}
    pools = {
        "child_id": [("child", k, world.children[k].id) for k in CHILDREN],
        "share_id": [("share", k, sh.id) for k, sh in world.shares.items() if k in ("sent", "decided")],
        "group_id": [("group", "group", world.group.id), ("group", "group2", world.group2.id)],
        "meeting_id": [("meeting", "meeting", world.mace["meeting"].id),
                       ("meeting", "meeting_held", world.meeting_held.id)],
        "agenda_item_id": [("item", f"item-{i}", i) for i in items],
        "action_id": [("action", "action", world.mace["action"].id)],
        "location_id": [("location", "location", world.mace["location"].id)],
        "person_id": [("person", "person", world.mace["person"].id)],
        "member_id": [("membership", f"membership-{i}", i) for i in s.scalars(select(MaceMember.id))],
        "episode_id": [("episode", k, e.id) for k, e in world.episodes.items()],
        "notification_id": [("notification", f"notification-{i}", i) for i in addressed],
        "item_id": [("review_item", "review_item", world.review_item.id)],
        "consent_id": [("consent", "consent", i) for i in s.scalars(select(ConsentRecord.id))],
        "org_id": [("org", "school_a", world.orgs["school_a"].id)],
        "user_id": [("user", "sw_h", world.users["sw_h"].id)],
        "enrolment_id": [("enrolment", f"enrolment-{i}", i) for i in s.scalars(select(Enrolment.id).limit(1))],
        "closure_id": [],
        # A record under retention of each owning organisation, named by the organisation; the
        # world holds no legal hold to lift.
        "retention_id": [("retention", owners[org], i) for org, i in s.execute(
            select(RetentionRecord.owning_org_id, func.min(RetentionRecord.id))
            .group_by(RetentionRecord.owning_org_id)).all()],
        "hold_id": [],
        # The erasure request about roll_a; a decision on the forces' class of record.
        "erasure_id": [("erasure", "roll_a", world.erasure.id)],
        "record_class": [("record_class", "police_record", "police_record")],
        "gateway_id": [],
        "message_id": [],
        "change": [("change", "first", None)],
        "answer": [("answer", "accept", "accept")],
    }
    return pools, extra


def post_cases(app, world) -> list[tuple[str, str, str, tuple]]:
    """(endpoint, url, poster, objects) for each form route naming an object, each object, and each
    near-insider who may not see one of the objects."""
    pools, extra = _pools(world)
    adapter = app.url_map.bind("localhost")
    cases = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "POST" not in rule.methods or not rule.arguments or rule.endpoint.split(".")[0] in ("auth", "api", "sso") \
                or rule.endpoint in NO_OBJECT:
            continue
        arguments = sorted(rule.arguments)
        choices = []
        for a in arguments:
            if a == "change":  # the route's own choices (deactivate, retire, ...): the first
                first = next(iter(rule._converters[a].items)) if hasattr(rule._converters[a], "items") else None
                choices.append([("change", first, first)])
            else:
                choices.append(pools[a])
        for combination in itertools.product(*choices):
            values = {a: v for a, (_k, _n, v) in zip(arguments, combination, strict=True)}
            objects = tuple((k, n) for k, n, _v in combination if k not in ("change", "answer", "record_class"))
            url = adapter.build(rule.endpoint, values)
            for user in NEAR:
                if any(not _sees(user, k, n, extra) for k, n in objects):
                    cases.append((rule.endpoint, url, user, objects))
    return cases


def _digest() -> dict[str, str]:
    """Every table but the audit log's and the sessions', as a digest of its rows."""
    s = db.session()
    found = {}
    for name in sorted(Base.metadata.tables):
        if name.startswith("audit_") or name in MAY_CHANGE:
            continue
        rows = s.execute(text(f'SELECT * FROM "{name}" ORDER BY 1')).all()
        found[name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    s.rollback()
    return found


def _refusals(user_id: int) -> int:
    return db.session().scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.actor_user_id == user_id, AuditEvent.outcome == "refused"))


@pytest.fixture(scope="module")
def cases(rich_app, rich_world):
    db.bind(rich_app.extensions["hub_engine"])
    found = post_cases(rich_app, rich_world)
    db.session.remove()
    return found


def test_every_form_route_naming_an_object_is_posted(rich_app, cases):
    routes = {r.endpoint for r in rich_app.url_map.iter_rules() if "POST" in r.methods and r.arguments
              and r.endpoint.split(".")[0] not in ("auth", "api", "sso") and r.endpoint not in NO_OBJECT}
    without = {"admin.remove_closure", "admin.change_gateway", "admin.retry_message",
               "notifications.remove_closure", "retention.lift"}  # no such object in the world: a 404 whoever asks
    assert {c[0] for c in cases} == routes - without
    print(f"\nCross-object POSTs: {len(routes)} form routes, {len(cases)} posts by near-insiders")


@pytest.mark.parametrize("poster", NEAR)
def test_a_form_posted_on_an_object_the_poster_may_not_see_is_refused_audited_and_changes_nothing(
        poster, rich_app, rich_world, clients, cases):
    db.bind(rich_app.extensions["hub_engine"])
    client = clients[poster]
    user_id = rich_world.users[poster].id
    token = csrf_token(client.get("/auth/sign-out").get_data(as_text=True))
    # Valid answers to the forms that check their answers before the object (so only the access
    # rule can stop them): an end date, a reason and a recipient.
    today = date.today()
    data = {"csrf_token": token, "end_date": [str(today.day), str(today.month), str(today.year)], "reason": "Checking",
            "recipient": str(rich_world.orgs["f1"].id)}
    mine = [c for c in cases if c[2] == poster]
    failures = []
    before = _digest()
    for endpoint, url, _user, objects in mine:
        refused = _refusals(user_id)
        response = client.post(url, data=data)
        db.session.remove()
        if response.status_code not in (403, 404):
            failures.append(f"{url} ({endpoint}, {objects}): {response.status_code}")
        elif _refusals(user_id) <= refused:
            failures.append(f"{url} ({endpoint}, {objects}): refused without an audit event")
        after = _digest()
        if after != before:
            changed = sorted(t for t in after if after[t] != before[t])
            failures.append(f"{url} ({endpoint}, {objects}): changed {', '.join(changed)}")
            before = after
    db.session.remove()
    print(f"\n{poster}: {len(mine)} posts, {len(mine) - len(failures)} refused, audited, nothing changed")
    assert not failures, f"{poster}:\n" + "\n".join(failures)
