"""Offline verifier for hub audit exports:

    python -m hub.audit.verify FILE [--public-key PEM | --trusted-keys JSON] [--witness VKEY ...] [--quorum K]
                                    [--against SAVED]

Written for a Data Protection Officer or auditor holding an export file and, ideally, the hub's
public key obtained separately (pin it with --public-key: a key inside the file proves only that
*someone* signed it), the witnesses' verifier keys (--witness, from the partners who run them)
and a checkpoint saved earlier (--against: the text of /audit/checkpoint, `flask audit checkpoint`,
a saved tree head or an earlier export). It needs nothing beyond the Python standard library and
`cryptography`: it imports only `hub.audit.merkle` and `hub.audit.checkpoint` from the hub, and
`hub/__init__.py` loads Flask lazily, so no app, database or other dependency is touched.

Export format "hub-audit-export/1" (JSON):
    {"format": "hub-audit-export/1",
     "public_key": "<Ed25519 public key, PEM>",
     "tree_head": {"tree_size": int, "root_hash": base64, "timestamp": "RFC 3339 UTC",
                   "signature": base64 Ed25519 signature over the canonical tree head},
     "entries": [{"index": int, "leaf": base64 leaf bytes, "inclusion_proof": [base64...] | null}]}

Since the witnesses, an export also holds "checkpoint" (the C2SP checkpoint of its tree head with
the hub's signature and the witnesses' cosignature lines) and may hold "consistency"
({"old_size": int, "proof": [base64...]}, made with `flask audit export --prove-from N`).

Checks: the tree head signature verifies (with the pinned key if given); with --witness, the
checkpoint is the tree head's, signed by the hub and cosigned by at least --quorum of the given
witnesses (default: all of them); with --against, the saved checkpoint is the hub's and the
export's log extends it (not shorter; its root at the saved size recomputed from a complete
export, or an RFC 9162 consistency proof from the saved size); entries are in strictly ascending
index order within the tree; then either the export is complete (every index 0..tree_size-1, no
proofs) and the recomputed root equals the signed one, or every entry carries an RFC 9162
inclusion proof that verifies against the signed root.

Exit status: 0 verified, 1 verification failed (one line naming the first bad entry), 2 the file
is unreadable, not JSON, or not an export of this format.

Longer than the 400 lines a module here aims at, on purpose: the offline verifier is one file that
imports only the log's formats (merkle, checkpoint) and no database, so a partner can read and run
it on its own.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from hub.audit import checkpoint
from hub.audit.merkle import leaf_hash, root_from_leaf_hashes, verify_consistency, verify_inclusion

FORMAT = "hub-audit-export/1"
EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2
MAX_JSON_INT = 2**53 - 1  # the largest integer RFC 8785 (IEEE double) represents exactly
_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


class FormatError(ValueError):
    """The input is not a hub audit export at all (exit status 2)."""


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: bytes
    timestamp: str
    signature: bytes


@dataclass(frozen=True)
class Entry:
    index: int
    leaf: bytes
    proof: list[bytes] | None


# --- Parsing ---------------------------------------------------------------------------------


def _b64(text: object, what: str) -> bytes:
    """Strict standard base64: one spelling per value, so edits cannot hide in padding bits."""
    if not isinstance(text, str):
        raise ValueError(f"{what} is not a base64 string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ValueError(f"{what} is not valid base64") from exc
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError(f"{what} is not canonical base64")
    return data


def _is_int(value: object) -> bool:
    return type(value) is int  # JSON true/false arrive as bool, an int subclass: refuse them


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of duplicate keys silently; an export that says two things about
    # one field is refused rather than read either way.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise FormatError(f"duplicate JSON key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> None:
    raise FormatError(f"JSON constant {name} is not allowed")


def load_export(raw: bytes) -> dict[str, Any]:
    """Decode and shape-check an export file's bytes; FormatError if it is not one."""
    try:
        data = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FormatError(f"not valid JSON: {exc}") from exc
    check_format(data)
    return data


def check_format(data: object) -> None:
    """The top-level shape; anything past this is a verification question, not a format one."""
    if not isinstance(data, dict):
        raise FormatError("the export must be a JSON object")
    if data.get("format") != FORMAT:
        raise FormatError(f"unknown export format {data.get('format')!r}, expected {FORMAT!r}")
    if not isinstance(data.get("public_key"), str):
        raise FormatError("public_key must be a PEM string")
    if not isinstance(data.get("tree_head"), dict):
        raise FormatError("tree_head must be an object")
    if not isinstance(data.get("entries"), list):
        raise FormatError("entries must be a list")


def load_public_key(pem: str, what: str) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"{what} is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{what} is not an Ed25519 public key")
    return key


def parse_tree_head(raw: dict[str, Any]) -> TreeHead:
    size = raw.get("tree_size")
    if not _is_int(size) or not 0 <= size <= MAX_JSON_INT:
        raise ValueError("tree_head.tree_size must be an integer in 0..2**53-1")
    root = _b64(raw.get("root_hash"), "tree_head.root_hash")
    if len(root) != 32:
        raise ValueError("tree_head.root_hash must be 32 bytes")
    timestamp = raw.get("timestamp")
    if not isinstance(timestamp, str) or not _valid_timestamp(timestamp):
        raise ValueError("tree_head.timestamp must be RFC 3339 UTC, like 2026-11-22T10:00:00Z")
    signature = _b64(raw.get("signature"), "tree_head.signature")
    if len(signature) != 64:
        raise ValueError("tree_head.signature must be a 64-byte Ed25519 signature")
    return TreeHead(size, root, timestamp, signature)


def _valid_timestamp(text: str) -> bool:
    if not _RFC3339_UTC.fullmatch(text):
        return False
    try:
        datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


def _parse_entry(raw: object, position: int) -> Entry:
    if not isinstance(raw, dict):
        raise ValueError(f"entry at position {position}: not an object")
    index = raw.get("index")
    if not _is_int(index):
        raise ValueError(f"entry at position {position}: index is not an integer")
    leaf = _b64(raw.get("leaf"), f"entry {index}: leaf")
    proof_raw = raw.get("inclusion_proof")
    if proof_raw is None:
        return Entry(index, leaf, None)
    if not isinstance(proof_raw, list):
        raise ValueError(f"entry {index}: inclusion_proof must be a list or null")
    proof = [_b64(item, f"entry {index}: inclusion_proof item") for item in proof_raw]
    return Entry(index, leaf, proof)  # hash lengths are judged by verify_inclusion


# --- Verification ----------------------------------------------------------------------------


def _signature_ok(head: TreeHead, keys: Ed25519PublicKey | Sequence[checkpoint.TrustedKey]) -> bool:
    """Signed by the key (or by one of the trusted keys valid at the head's time)."""
    return checkpoint.head_signer(keys, head.tree_size, head.root_hash, head.timestamp, head.signature) is not None


def _same_key(a: Ed25519PublicKey, b: Ed25519PublicKey) -> bool:
    return a.public_bytes(Encoding.Raw, PublicFormat.Raw) == b.public_bytes(
        Encoding.Raw, PublicFormat.Raw
    )


def _parse_entries(raw_entries: list[Any], tree_size: int) -> tuple[list[Entry], list[str]]:
    """Entries, plus every structural problem: bad fields, out-of-range, duplicate or
    out-of-order indexes (ascending order is required so a reordering cannot go unnoticed)."""
    entries: list[Entry] = []
    errors: list[str] = []
    seen: set[int] = set()
    previous = -1
    for position, raw in enumerate(raw_entries):
        try:
            entry = _parse_entry(raw, position)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if not 0 <= entry.index < tree_size:
            errors.append(f"entry {entry.index}: index out of range for tree size {tree_size}")
        elif entry.index in seen:
            errors.append(f"entry {entry.index}: duplicate index")
        elif entry.index < previous:
            errors.append(
                f"entry {entry.index}: out of order (comes after entry {previous}); "
                "entries must be in ascending index order"
            )
        else:
            entries.append(entry)
        seen.add(entry.index)
        previous = max(previous, entry.index)
    return entries, errors


def _check_complete(entries: list[Entry], head: TreeHead) -> list[str]:
    """An export without proofs must be the whole log; then the root is simply recomputed.

    An empty export of a non-empty tree lands here too and fails: "0 entries checked, OK" would
    read as a clean bill of health while proving nothing.
    """
    if len(entries) != head.tree_size:
        missing = next((pos for pos, e in enumerate(entries) if e.index != pos), len(entries))
        return [
            f"entry {missing}: missing; an export without inclusion proofs must hold every "
            f"entry 0..{head.tree_size - 1} (this one holds {len(entries)})"
        ]
    root = root_from_leaf_hashes([leaf_hash(e.leaf) for e in entries])
    if root != head.root_hash:
        return [
            f"entries 0..{head.tree_size - 1}: the recomputed root does not match the signed "
            "root hash, so some entry was altered (a complete export without proofs cannot "
            "say which; ask for one with inclusion proofs)"
        ]
    return []


def _check_proofs(entries: list[Entry], head: TreeHead) -> list[str]:
    errors = []
    for e in entries:
        if e.proof is None:
            errors.append(
                f"entry {e.index}: no inclusion proof (a partial export needs one on every entry)"
            )
        elif not verify_inclusion(leaf_hash(e.leaf), e.index, head.tree_size, e.proof, head.root_hash):
            errors.append(
                f"entry {e.index}: inclusion proof does not verify against the signed tree head "
                "(the entry or its proof was altered)"
            )
    return errors


@dataclass(frozen=True)
class Saved:
    """A tree the DPO kept from earlier: its size and root, signed by the hub."""

    tree_size: int
    root_hash: bytes


def parse_saved(raw: str, public_key: Ed25519PublicKey | Sequence[checkpoint.TrustedKey]) -> Saved:
    """A saved checkpoint note (its hub signature checked with `public_key`, or any of the trusted
    keys: one saved before a rotation carries the old key), a saved tree head JSON or an earlier
    export (its signed tree head); ValueError when it is none of these or its signature does not
    verify."""
    if raw.lstrip().startswith("{"):
        try:
            data = json.loads(raw, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
        except (json.JSONDecodeError, FormatError, RecursionError) as exc:
            raise ValueError(f"the saved tree head is not valid JSON: {exc}") from exc
        head = parse_tree_head(data.get("tree_head", data) if isinstance(data, dict) else {})
        if not _signature_ok(head, public_key):
            raise ValueError("the saved tree head's signature does not verify with the hub's key")
        return Saved(head.tree_size, head.root_hash)
    origin = raw.split("\n", 1)[0]
    vkeys = [checkpoint.verifier_key(origin, key.public_key) for key in checkpoint.trusted(public_key)]
    _, size, root = checkpoint.verify_note_by_any(raw, vkeys)
    return Saved(size, root)


def _check_checkpoint(data: dict[str, Any], head: TreeHead, public_key: Ed25519PublicKey,
                      witnesses: list[str], quorum: int) -> list[str]:
    """The export's checkpoint is its tree head, signed by the hub and cosigned by the quorum."""
    note = data.get("checkpoint")
    if not isinstance(note, str):
        return ["the export carries no checkpoint, so no witness cosignature can be checked"]
    origin = note.split("\n", 1)[0]
    try:
        _, size, root = checkpoint.verify_note(note, checkpoint.verifier_key(origin, public_key))
        cosigned = checkpoint.cosigners(note, witnesses)
    except ValueError as exc:
        return [f"the export's checkpoint does not verify: {exc}"]
    if (size, root) != (head.tree_size, head.root_hash):
        return ["the export's checkpoint is not its signed tree head (different size or root)"]
    problems = [f"witness {name}'s cosignature on the checkpoint does not verify" for name in cosigned.invalid]
    if len(cosigned.valid) < quorum:
        missing = [checkpoint.parse_verifier_key(v, checkpoint.COSIGNATURE_ALGORITHM)[0] for v in witnesses]
        missing = [name for name in missing if name not in cosigned.valid]
        problems.append(f"the checkpoint is cosigned by {len(cosigned.valid)} of the trusted witnesses, the quorum "
                        f"is {quorum} (not cosigned by {', '.join(missing)})")
    return problems


def _check_against(data: dict[str, Any], entries: list[Entry], head: TreeHead, saved: Saved) -> list[str]:
    """The export's log extends the saved tree: not shorter, and the same root at the saved size."""
    if saved.tree_size > head.tree_size:
        return [f"the export's log has {head.tree_size} entries, fewer than the {saved.tree_size} of the saved "
                "checkpoint: entries were removed or the log was rewritten"]
    if saved.tree_size == head.tree_size:
        same = saved.root_hash == head.root_hash
        return [] if same else ["the export's root differs from the saved checkpoint's at the same size: "
                                "the log was rewritten"]
    if saved.tree_size == 0:
        return []
    if len(entries) == head.tree_size and all(e.proof is None for e in entries):
        root = root_from_leaf_hashes([leaf_hash(e.leaf) for e in entries[:saved.tree_size]])
        consistent = root == saved.root_hash
    else:
        proof = _consistency(data, saved.tree_size)
        if proof is None:
            return [f"the export carries no consistency proof from the saved checkpoint's {saved.tree_size} entries "
                    f"(export again with --prove-from {saved.tree_size})"]
        consistent = verify_consistency(saved.tree_size, head.tree_size, saved.root_hash, head.root_hash, proof)
    if not consistent:
        return [f"the export's log is not consistent with the saved checkpoint of {saved.tree_size} entries: "
                "entries before it were changed or removed"]
    return []


def _consistency(data: dict[str, Any], old_size: int) -> list[bytes] | None:
    raw = data.get("consistency")
    if not isinstance(raw, dict) or raw.get("old_size") != old_size or not isinstance(raw.get("proof"), list):
        return None
    try:
        return [_b64(item, "consistency proof item") for item in raw["proof"]]
    except ValueError:
        return None


def verify_export(data: dict[str, Any], pinned_public_key_pem: str | None = None, witnesses: list[str] | None = None,
                  quorum: int | None = None, against: str | None = None,
                  trusted_keys: list[checkpoint.TrustedKey] | None = None) -> list[str]:
    """Every problem found, in entry order (empty means the export verifies). `trusted_keys`: the
    hub's keys over time with their periods (`flask audit trusted-keys`), instead of one pinned
    key: the export's head must be signed by the one valid at its time, and a saved checkpoint by
    any of them.

    Stops early where later checks would be meaningless: nothing is judged against a tree head
    whose signature fails, and entry contents are not judged while the entry list is malformed.
    """
    witnesses = witnesses or []
    try:
        check_format(data)
        public_key = load_public_key(data["public_key"], "public_key")
        head = parse_tree_head(data["tree_head"])
        if pinned_public_key_pem is not None:
            pinned = load_public_key(pinned_public_key_pem, "the pinned public key")
            if not _same_key(public_key, pinned):
                return ["the export's public key is not the pinned public key"]
        saved = parse_saved(against, trusted_keys or public_key) if against is not None else None
    except ValueError as exc:
        return [str(exc)]
    if trusted_keys is not None:
        signer = checkpoint.head_signer(trusted_keys, head.tree_size, head.root_hash, head.timestamp, head.signature)
        if signer is None:
            return ["tree head signature does not verify with any trusted key valid at its time"]
        if not _same_key(public_key, signer.public_key):
            return ["the export's public key is not the trusted key that signed its tree head"]
    if not _signature_ok(head, public_key):
        return ["tree head signature does not verify with the public key"]
    quorum = len(witnesses) if quorum is None else quorum
    if witnesses and (problems := _check_checkpoint(data, head, public_key, witnesses, quorum)):
        return problems
    entries, errors = _parse_entries(data["entries"], head.tree_size)
    if errors:
        return errors
    if saved is not None and (problems := _check_against(data, entries, head, saved)):
        return problems
    if all(e.proof is None for e in entries):
        return _check_complete(entries, head)
    return _check_proofs(entries, head)


# --- Command line ----------------------------------------------------------------------------


def _summary(data: dict[str, Any]) -> str:
    head = parse_tree_head(data["tree_head"])
    entries = data["entries"]
    how = (
        "complete log, root recomputed"
        if all(e.get("inclusion_proof") is None for e in entries)
        else "inclusion proofs verified"
    )
    return (
        f"OK: {len(entries)} entries checked ({how}); signed tree head: tree size "
        f"{head.tree_size}, root {base64.b64encode(head.root_hash).decode()}, at {head.timestamp}"
    )


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise FormatError(f"cannot read {what} {path}: {exc.strerror}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hub.audit.verify",
        description="Verify a hub audit export offline against its signed tree head.",
    )
    parser.add_argument("file", help="the export JSON file")
    parser.add_argument(
        "--public-key", metavar="PEM_FILE", help="the hub's Ed25519 public key, obtained separately"
    )
    parser.add_argument("--trusted-keys", metavar="JSON_FILE",
                        help="the hub's keys with their validity periods (`flask audit trusted-keys`), obtained "
                             "separately: instead of --public-key across a key rotation")
    parser.add_argument("--witness", metavar="VKEY", action="append", default=[],
                        help="a witness's verifier key (name+hash+key), from the partner who runs it; repeat")
    parser.add_argument("--quorum", type=int, metavar="K",
                        help="how many of the witnesses must have cosigned (default: all given)")
    parser.add_argument("--against", metavar="SAVED_FILE",
                        help="a checkpoint (or tree head, or export) saved earlier that the log must extend")
    args = parser.parse_args(argv)
    try:
        data = load_export(_read(args.file, "export"))
        pinned = None
        if args.public_key is not None:
            pinned = _read(args.public_key, "public key file").decode("utf-8", "replace")
            load_public_key(pinned, "--public-key file")
        trusted_keys = None
        if args.trusted_keys is not None:
            if pinned is not None:
                raise ValueError("give either --public-key or --trusted-keys, not both")
            try:
                trusted_keys = checkpoint.parse_trusted_keys(json.loads(_read(args.trusted_keys, "trusted keys file")))
            except json.JSONDecodeError as exc:
                raise ValueError(f"the trusted keys file is not JSON: {exc}") from exc
        for vkey in args.witness:
            checkpoint.parse_verifier_key(vkey, checkpoint.COSIGNATURE_ALGORITHM)
        if args.quorum is not None and not 1 <= args.quorum <= len(args.witness):
            raise ValueError("--quorum must be between 1 and the number of --witness keys")
        against = _read(args.against, "saved checkpoint").decode("utf-8", "replace") if args.against else None
    except (FormatError, ValueError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    errors = verify_export(data, pinned, args.witness, args.quorum, against, trusted_keys)
    if errors:
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        print(f"FAILED: {errors[0]}{more}", file=sys.stderr)
        return EXIT_FAILED
    extra = ""
    if args.witness:
        extra += f"; cosigned by at least {args.quorum or len(args.witness)} of the {len(args.witness)} witnesses given"
    if against is not None:
        extra += "; the log extends the saved checkpoint"
    print(_summary(data) + extra)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
