"""add-checkpoint as C2SP tlog-witness specifies it, in the order it gives:

    404  the checkpoint's origin is not a log this witness trusts
    403  no signature on the checkpoint verifies with a key trusted for that origin
    400  a malformed request, or an old size larger than the checkpoint's
    409  the old size is not the size this witness last cosigned (body: that size and a newline,
         Content-Type text/x.tlog.size); or the sizes are equal and the roots differ
    422  the consistency proof from the old size does not verify
    200  one cosignature/v1 line, once the new checkpoint is stored

409 and 422 are also kept as refusals (with the signed request), since they may be proof that
the log rewrote its history.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.audit import checkpoint, merkle
from hub.witness.store import Cosigned, Refusal, Store

SIZE_TYPE = "text/x.tlog.size"
TEXT_TYPE = "text/plain; charset=utf-8"
MAX_PROOF_LINES = 63
MAX_BODY = 64 * 1024
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]{0,18})")


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = TEXT_TYPE


class Refused(Exception):
    def __init__(self, status: int, reason: str, known_size: int | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.known_size = status, reason, known_size

    def answer(self) -> Answer:
        if self.known_size is not None:
            return Answer(self.status, f"{self.known_size}\n", SIZE_TYPE)
        return Answer(self.status, f"{self.reason}\n")


@dataclass(frozen=True)
class Request:
    old_size: int
    proof: list[bytes]
    note: str
    text: str
    origin: str


def parse_request(raw: bytes) -> Request:
    """The old size line, the proof lines, a blank line, then the checkpoint note; Refused(400)
    for anything else (the checkpoint body itself is parsed once its signature verified)."""
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, "the request is not UTF-8") from exc
    head, blank, note = body.partition("\n\n")
    if not blank:
        raise Refused(400, "the request has no blank line before the checkpoint")
    lines = head.split("\n")
    match = _OLD_LINE.fullmatch(lines[0])
    if match is None:
        raise Refused(400, "the first line must be 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise Refused(400, f"more than {MAX_PROOF_LINES} consistency proof lines")
    try:
        proof = [checkpoint.b64decode_strict(line) for line in lines[1:]]
        text, _ = checkpoint.split_note(note)
    except ValueError as exc:
        raise Refused(400, f"malformed request: {exc}") from exc
    if any(len(h) != merkle.HASH_SIZE for h in proof):
        raise Refused(400, "a consistency proof line is not a 32-byte hash")
    return Request(int(match.group(1)), proof, note, text, text.split("\n", 1)[0])


class Witness:
    def __init__(self, name: str, private_key: Ed25519PrivateKey, store: Store,
                 clock: Callable[[], float] = time.time) -> None:
        checkpoint.verifier_key(name, private_key.public_key(), checkpoint.COSIGNATURE_ALGORITHM)  # a valid name
        self.name, self.private_key, self.store, self.clock = name, private_key, store, clock

    @property
    def vkey(self) -> str:
        return checkpoint.verifier_key(self.name, self.private_key.public_key(), checkpoint.COSIGNATURE_ALGORITHM)

    def add_checkpoint(self, raw: bytes) -> Answer:
        try:
            return Answer(200, self._add(raw))
        except Refused as refused:
            return refused.answer()

    def _add(self, raw: bytes) -> str:
        request = parse_request(raw)
        with self.store.transaction() as connection:
            keys = self.store.keys(connection, request.origin)
            if not keys:
                raise Refused(404, f"unknown log {request.origin!r}")
            if not any(self._signed_by(request.note, key) for key in keys):
                raise Refused(403, "no signature by a key trusted for this log verifies")
            try:
                _, size, root = checkpoint.parse_checkpoint_body(request.text)
            except ValueError as exc:
                raise Refused(400, f"not a checkpoint: {exc}") from exc
            try:
                self._check(request, size, root, self.store.latest(connection, request.origin))
            except Refused as refused:
                if refused.status in (409, 422):  # may be a log rewriting its history: kept (committed)
                    self.store.refuse(connection, Refusal(int(self.clock()), request.origin, refused.status,
                                                          refused.reason, request.old_size, size), raw.decode())
                failure = refused
            else:
                failure = None
                line = checkpoint.cosign(request.text, self.name, self.private_key, int(self.clock()))
                self.store.record(connection, Cosigned(request.origin, size, root, request.note, line,
                                                       int(self.clock())))
        if failure is not None:
            raise failure
        return line

    @staticmethod
    def _signed_by(note: str, vkey: str) -> bool:
        try:
            checkpoint.open_note(note, vkey)
        except ValueError:
            return False
        return True

    @staticmethod
    def _check(request: Request, size: int, root: bytes, latest: Cosigned | None) -> None:
        old, proof = request.old_size, request.proof
        if old > size:
            raise Refused(400, f"old size {old} is larger than the checkpoint's {size}")
        known = latest.tree_size if latest else 0
        if old != known:
            raise Refused(409, f"this witness last cosigned {known} entries, not {old}", known)
        if latest is not None and old == size:
            if root != latest.root:
                raise Refused(409, f"a different root for the {size} entries cosigned before", known)
            if proof:
                raise Refused(422, "a consistency proof between equal sizes must be empty")
        elif old == 0:
            if proof:
                raise Refused(400, "the consistency proof must be empty when the old size is 0")
        elif not merkle.verify_consistency(old, size, latest.root, root, proof):
            raise Refused(422, f"the consistency proof from {old} to {size} entries does not verify")

    def latest_note(self, origin: str) -> str | None:
        """The latest checkpoint cosigned for `origin`, as the log signed it plus this witness's
        cosignature: what a monitor (or the hub's own checks) compares the log with."""
        cosigned = self.store.read(origin)
        return cosigned.note + cosigned.cosignature if cosigned else None
