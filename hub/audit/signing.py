"""Signing tree heads and having them cosigned: never a signature without a proof, and every new
checkpoint put to the witnesses.

`sign_and_publish()` is the one way the hub signs outside tests: it first asks each witness what
it last cosigned for this log (verifying the hub's signature and the witness's cosignature on the
answer), then `tree_heads.sign_tree_head` proves with RFC 9162 consistency proofs that the log
extends the previous signed head, the latest verified root and each of those checkpoints, and
refuses (SigningRefused, and an alarm) when it does not. A database administrator can delete
the signed heads and the recorded roots, but not what the witnesses hold: a rewritten log is
never signed, and a witness would refuse its checkpoint anyway (422, or 409 with its size).

Then `publish(head)` submits the head's checkpoint to each witness with a consistency proof from
the size that witness last cosigned (learning it from a 409 when the hub's record is wrong),
stores each cosignature line, and counts the checkpoint published once the quorum has cosigned.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from hub import db
from hub.audit import alarms, checkpoint, witnessing
from hub.audit import keys as audit_keys
from hub.audit import tree_heads as audit_tree_heads
from hub.db import unit_of_work, utcnow
from hub.models.audit import Cosignature, SignedTreeHead, WitnessState

#: How often the hub signs a tree head by itself (the worker's "sign and witness" duty asks).
TREE_HEAD_EVERY = timedelta(hours=1)
#: How long the worker waits before putting an uncosigned checkpoint to a witness again.
RETRY_EVERY = 60.0


@dataclass
class Publication:
    head_id: int
    cosigned: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)
    #: Witnesses whose checkpoint is already later than this head (another worker got there first).
    superseded: list[str] = field(default_factory=list)
    published: bool = False


def origin() -> str:
    return witnessing.settings().origin


def sign_and_publish() -> SignedTreeHead:
    """Sign the log as it stands, after proving it extends everything signed, verified and
    cosigned before; then submit it to the witnesses. SigningRefused when the proof fails."""
    cosigned, problems = witnessing.latest_cosigned(origin(), audit_keys.log_verifier_keys(origin()))
    for problem in problems:
        alarms.raise_alarm("witness-unreachable", problem, subject=problem.split()[1])
    try:
        head = audit_tree_heads.sign_tree_head(witnessing.anchors(cosigned))
    except audit_tree_heads.SigningRefused as refused:
        alarms.raise_alarm("signing-refused", "; ".join(refused.problems))
        raise
    alarms.clear("signing-refused")
    publish(head)
    return head


def due(every: timedelta = TREE_HEAD_EVERY, now: datetime | None = None) -> bool:
    """No tree head yet, or the latest is `every` old: each worker asks every cycle and the
    latest head in the database decides, so several workers between them sign about once per
    `every`."""
    return _due(audit_tree_heads.latest_tree_head(), every, now)


def _due(latest: SignedTreeHead | None, every: timedelta, now: datetime | None) -> bool:
    if latest is None:
        return True
    signed_at = datetime.strptime(latest.timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (now or datetime.now(UTC)) - signed_at >= every


def sign_and_publish_if_due(every: timedelta = TREE_HEAD_EVERY, now: datetime | None = None) -> int:
    """The worker's "sign and witness" duty: sign when due, else put the latest head to the
    witnesses that have not cosigned it (at most once a minute each). The number signed."""
    latest = audit_tree_heads.latest_tree_head()  # read once: the head judged not due is the one put
    if _due(latest, every, now):
        sign_and_publish()
        return 1
    publish(latest, only_due=True)
    return 0


# --- publishing -------------------------------------------------------------------------------

_last_try: dict[str, float] = {}
_last_try_lock = threading.Lock()


def _try_now(name: str) -> bool:
    with _last_try_lock:
        if time.monotonic() - _last_try.get(name, -RETRY_EVERY) < RETRY_EVERY:
            return False
        _last_try[name] = time.monotonic()
        return True


def _signed_size(size: int) -> bool:
    return db.session().scalar(select(SignedTreeHead.id).where(SignedTreeHead.tree_size == size).limit(1)) is not None


def _cosigned_by(head_id: int) -> set[str]:
    return set(db.session().scalars(select(Cosignature.witness).where(Cosignature.tree_head_id == head_id)))


def _known_size(name: str) -> int:
    state = db.session().get(WitnessState, name, populate_existing=True)
    return state.cosigned_size or 0 if state is not None else 0


def publish(head: SignedTreeHead, only_due: bool = False) -> Publication:
    """Submit the head's checkpoint to each witness that has not cosigned it; record the
    outcome, the cosignatures and the alarms."""
    config = witnessing.settings()
    result = Publication(head.id)
    if not config.witnesses:
        return result
    note = audit_tree_heads.signed_checkpoint(config.origin, head)
    body = checkpoint.checkpoint_body(config.origin, head.tree_size, head.root_hash)
    done = _cosigned_by(head.id)
    todo = {w: _known_size(w.name) for w in config.witnesses
            if w.name not in done and (not only_due or _try_now(w.name))}
    lines: dict[str, tuple[str, int]] = {}
    retry = {}
    for reply, old in _submit(todo, head, note, result):
        size = witnessing.conflict_size(reply)
        if size is not None and size > head.tree_size and _signed_size(size):
            result.superseded.append(reply.witness.name)  # another worker's later head got there first
        elif size is not None and size > head.tree_size:
            result.refused[reply.witness.name] = (f"409: it has cosigned {size} entries, more than this head's "
                                                  f"{head.tree_size}, and the hub holds no head of that size: "
                                                  "the log was cut short or rewritten")
        elif size is not None and size != old:
            retry[reply.witness] = size  # the hub's record was wrong: the witness said its size
        else:
            _judge(reply, body, result, lines)
    for reply, _ in _submit(retry, head, note, result):
        _judge(reply, body, result, lines)
    _record(head, result, lines)
    return result


def _submit(sizes: dict[witnessing.Witness, int], head: SignedTreeHead, note: str,
            result: Publication) -> list[tuple[witnessing.Reply, int]]:
    """The add-checkpoint requests, with the proofs read from the stored tree first (no database
    work happens while the requests are out); each reply with the old size it was sent."""
    requests_, olds = [], []
    for witness, old in sizes.items():
        if old > head.tree_size:
            old = 0  # the hub's record is ahead of this head: ask, and the 409 tells the truth
        try:
            proof = audit_tree_heads.consistency_proof(old, head.tree_size) if 0 < old < head.tree_size else []
        except KeyError:
            result.refused[witness.name] = f"the tree nodes to prove consistency from {old} entries are missing"
            continue
        requests_.append((witness, witnessing.request_body(old, proof, note)))
        olds.append(old)
    return list(zip(witnessing.submit(requests_), olds, strict=True))


def _judge(reply: witnessing.Reply, body: str, result: Publication, lines: dict[str, tuple[str, int]]) -> None:
    name = reply.witness.name
    if reply.status is None:
        result.unreachable[name] = f"no answer ({reply.text})"
        return
    if reply.status != 200:
        size = witnessing.conflict_size(reply)
        if size is not None:
            said = (f"it cosigned another root for the same {size} entries: the log was rewritten"
                    if size == witnessing.checkpoint_size(body) else f"its cosigned size is {size}")
        else:
            said = reply.text.strip()[:300]
        result.refused[name] = f"{reply.status}: {said}"
        return
    for line in reply.text.splitlines(keepends=True):
        try:
            stamp = checkpoint.cosignature_timestamp(body, line, reply.witness.vkey)
        except ValueError as exc:
            result.refused[name] = f"200 with a cosignature that does not verify ({exc})"
            return
        if stamp is not None:
            lines[name] = (line, stamp)
            result.cosigned.append(name)
            return
    result.refused[name] = "200 without a cosignature by its key"


def _record(head: SignedTreeHead, result: Publication, lines: dict[str, tuple[str, int]]) -> None:
    now = utcnow()
    with unit_of_work() as s:
        for name in result.cosigned:
            line, stamp = lines[name]
            s.add(Cosignature(tree_head_id=head.id, witness=name, line=line,
                              cosigned_at=datetime.fromtimestamp(stamp, UTC)))
            state = _state(s, name)
            state.cosigned_size, state.cosigned_at = head.tree_size, datetime.fromtimestamp(stamp, UTC)
            state.last_attempt_at, state.last_outcome = now, "cosigned"
        for name, why in result.refused.items():
            state = _state(s, name)
            state.last_attempt_at, state.last_outcome, state.refused_at, state.refusal = now, "refused", now, why
        for name in result.unreachable:
            state = _state(s, name)
            state.last_attempt_at, state.last_outcome = now, "unreachable"
        count = s.scalar(select(func.count()).select_from(Cosignature).where(Cosignature.tree_head_id == head.id))
    result.published = count >= witnessing.settings().quorum
    for name in result.cosigned:
        alarms.clear("witness-refused", name)
        alarms.clear("witness-unreachable", name)
    for name, why in result.refused.items():
        alarms.raise_alarm("witness-refused", f"{name} refused the checkpoint of {head.tree_size} entries: {why}",
                           subject=name)
    for name, why in result.unreachable.items():
        alarms.raise_alarm("witness-unreachable", f"{name} could not be reached: {why}", subject=name)
    if result.published:
        alarms.clear("not-published")
    elif not result.superseded:
        alarms.raise_alarm("not-published", f"the checkpoint of {head.tree_size} entries has {count} of the "
                                            f"{witnessing.settings().quorum} cosignatures it needs")


def _state(s, name: str) -> WitnessState:
    state = s.get(WitnessState, name)
    if state is None:
        state = WitnessState(name=name)
        s.add(state)
    return state


def is_published(head: SignedTreeHead) -> bool:
    config = witnessing.settings()
    return bool(config.witnesses) and len(_cosigned_by(head.id)) >= config.quorum
