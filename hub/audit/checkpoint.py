"""Signed tree heads in two interoperable shapes.

1. C2SP tlog-checkpoint bodies (https://c2sp.org/tlog-checkpoint) wrapped in C2SP signed notes
   with Ed25519 (https://c2sp.org/signed-note), so standard transparency tooling (witnesses,
   Go's golang.org/x/mod/sumdb/note) can read and verify what the hub publishes.
2. The hub's own JSON tree head: the RFC 8785 canonical JSON of
   {"root_hash", "timestamp", "tree_size"} signed with Ed25519, which the offline verifier
   (`hub.audit.verify`) checks in audit exports.
3. C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature): a witness's timestamped Ed25519
   signature over "cosignature/v1\ntime T\n" and the checkpoint body, carried as one more
   signature line of the checkpoint note (key ID algorithm byte 0x04).

All are parsed strictly: anything that is not exactly what we would have produced raises
ValueError rather than being "repaired", because a verifier that guesses can be steered.

Standard library and `cryptography` only, like `merkle`: the offline verifier and the witness
(`hub.witness`) import this module without the hub's other dependencies.

Longer than the 400 lines a module here aims at, on purpose: the C2SP signed-note and cosignature
formats whole, byte for byte, in one place.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

ED25519_ALGORITHM = b"\x01"  # signed-note signature type byte for Ed25519
COSIGNATURE_ALGORITHM = b"\x04"  # signed-note type byte for timestamped Ed25519 witness cosignatures
COSIGNATURE_HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1  # the cosignature's u64 timestamp, kept within a signed 64-bit integer
SIGNATURE_PREFIX = "\u2014 "  # em dash + space, never an ASCII hyphen
MAX_SIGNATURES = 100  # the spec asks verifiers for a limit of at least 16; Go uses 100
MAX_JSON_INT = 2**53 - 1  # RFC 8785 numbers are IEEE doubles: larger integers are not exact

_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")  # decimal, no leading zeros, no sign
_KEY_HASH = re.compile(r"[0-9a-f]{8}")
_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


# --- Small strict codecs ---------------------------------------------------------------------


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str) -> bytes:
    """Standard base64 with padding, and only the one canonical spelling of each byte string:
    non-zero padding bits or stray characters would let two different notes mean the same."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ValueError("invalid base64") from exc
    if b64encode(data) != text:
        raise ValueError("non-canonical base64")
    return data


def _raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


# --- C2SP tlog-checkpoint --------------------------------------------------------------------


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """The three mandatory checkpoint lines (origin, tree size, base64 root), newline ended."""
    _check_origin(origin)
    if type(size) is not int or size < 0:
        raise ValueError("tree size must be a non-negative integer")
    if not isinstance(root, bytes) or len(root) != 32:
        raise ValueError("root hash must be 32 bytes")
    return f"{origin}\n{size}\n{b64encode(root)}\n"


def parse_checkpoint_body(body: str) -> tuple[str, int, bytes]:
    """(origin, size, root) from a checkpoint body; extension lines are allowed by the spec but
    must be non-empty, and are ignored (they are covered by the signature all the same)."""
    if not body.endswith("\n"):
        raise ValueError("checkpoint body must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3 or any(line == "" for line in lines):
        raise ValueError("checkpoint body needs origin, size and root lines, none empty")
    origin, size_text, root_text = lines[:3]
    _check_origin(origin)
    if not _TREE_SIZE.fullmatch(size_text):
        raise ValueError("checkpoint tree size is not a canonical decimal")
    root = b64decode_strict(root_text)
    if len(root) != 32:
        raise ValueError("checkpoint root hash is not 32 bytes")
    return origin, int(size_text), root


def _check_origin(origin: str) -> None:
    if not origin or "\n" in origin:
        raise ValueError("origin must be a non-empty single line")
    _check_text(origin)


# --- C2SP signed-note ------------------------------------------------------------------------


def _check_key_name(name: str) -> None:
    # "Non-empty, no Unicode spaces, no plus": the plus separates fields in verifier keys and
    # the space separates the name from the signature on a signature line.
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise ValueError("key name must be non-empty with no spaces or '+'")
    _check_text(name)


def _check_text(text: str) -> None:
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise ValueError("note text must not contain control characters other than newline")


def key_hash(key_name: str, public_key: Ed25519PublicKey, algorithm: bytes = ED25519_ALGORITHM) -> bytes:
    """4-byte key ID: SHA-256(name || 0x0A || type byte || 32-byte public key)[:4], with type
    0x01 for the log's note signatures and 0x04 for a witness's cosignatures."""
    material = key_name.encode("utf-8") + b"\n" + algorithm + _raw_public_key(public_key)
    return hashlib.sha256(material).digest()[:4]


def verifier_key(key_name: str, public_key: Ed25519PublicKey, algorithm: bytes = ED25519_ALGORITHM) -> str:
    """`<name>+<hex key hash>+<base64(type byte || public key)>`, the shareable verifier key
    (a "vkey"): type 0x01 for a log, 0x04 for a witness."""
    _check_key_name(key_name)
    encoded = b64encode(algorithm + _raw_public_key(public_key))
    return f"{key_name}+{key_hash(key_name, public_key, algorithm).hex()}+{encoded}"


def parse_verifier_key(text: str, algorithm: bytes = ED25519_ALGORITHM) -> tuple[str, Ed25519PublicKey]:
    """(key name, public key) from a verifier key string of the given type, checking its key hash."""
    parts = text.split("+", 2)  # the base64 part may itself contain '+'
    if len(parts) != 3:
        raise ValueError("verifier key must be name+hash+key")
    name, hash_hex, key_b64 = parts
    _check_key_name(name)
    if not _KEY_HASH.fullmatch(hash_hex):
        raise ValueError("verifier key hash must be 8 lowercase hex digits")
    key = b64decode_strict(key_b64)
    if len(key) != 33 or key[:1] != algorithm:
        kind = "a witness's cosignature" if algorithm == COSIGNATURE_ALGORITHM else "an Ed25519"
        raise ValueError(f"verifier key is not {kind} key")
    public_key = Ed25519PublicKey.from_public_bytes(key[1:])
    if key_hash(name, public_key, algorithm) != bytes.fromhex(hash_hex):
        raise ValueError("verifier key hash does not match its key")
    return name, public_key


def sign_note(body: str, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note: body, a blank line, one signature line over the body's UTF-8 bytes."""
    if not body.endswith("\n"):
        raise ValueError("note text must end with a newline")
    _check_text(body)
    _check_key_name(key_name)
    signature = private_key.sign(body.encode("utf-8"))
    blob = key_hash(key_name, private_key.public_key()) + signature
    return f"{body}\n{SIGNATURE_PREFIX}{key_name} {b64encode(blob)}\n"


def open_note(note: str, verifier_key_str: str) -> str:
    """The note text, once a signature by the given key verifies; ValueError otherwise.

    Per the spec: signatures from other keys are ignored, and the first signature whose
    (name, key hash) matches ours decides, so a bad signature by our key rejects the note.
    """
    name, public_key = parse_verifier_key(verifier_key_str)
    text, signature_lines = split_note(note)
    wanted_hash = key_hash(name, public_key)
    for line in signature_lines:
        line_name, blob = parse_signature_line(line)
        if line_name != name or blob[:4] != wanted_hash:
            continue
        try:
            public_key.verify(blob[4:], text.encode("utf-8"))
        except InvalidSignature as exc:
            raise ValueError("note signature does not verify") from exc
        return text
    raise ValueError(f"note has no signature from key {name}")


def split_note(note: str) -> tuple[str, list[str]]:
    """(text, signature lines); the text ends at the last blank line, as the spec says."""
    _check_text(note)
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise ValueError("malformed note: no blank line before the signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    lines = signatures[:-1].split("\n") if signatures else []
    if not lines or len(lines) > MAX_SIGNATURES:
        raise ValueError("note must carry between 1 and 100 signatures")
    return text, lines


def parse_signature_line(line: str) -> tuple[str, bytes]:
    if not line.startswith(SIGNATURE_PREFIX):
        raise ValueError("malformed signature line")
    parts = line[len(SIGNATURE_PREFIX) :].split(" ")
    if len(parts) != 2:
        raise ValueError("malformed signature line")
    name, blob_b64 = parts
    _check_key_name(name)
    blob = b64decode_strict(blob_b64)
    if len(blob) < 5:
        raise ValueError("signature too short")
    return name, blob


def verify_note_by_any(note: str, verifier_keys: Sequence[str]) -> tuple[str, int, bytes]:
    """verify_note with the first of several keys (a log's keys over time) that signed the note."""
    problems = []
    for vkey in verifier_keys:
        try:
            return verify_note(note, vkey)
        except ValueError as exc:
            problems.append(str(exc))
    raise ValueError("; ".join(problems) or "no verifier key given")


def verify_note(note: str, verifier_key_str: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a signed checkpoint note; ValueError on any problem."""
    return parse_checkpoint_body(open_note(note, verifier_key_str))


# --- C2SP tlog-cosignature -------------------------------------------------------------------


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The exact bytes a cosignature/v1 signs: the header line, `time <seconds>` and the whole
    checkpoint body (extension lines included, signature lines not)."""
    parse_checkpoint_body(body)  # a witness cosigns checkpoints and nothing else
    if type(timestamp) is not int or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError("cosignature timestamp must be seconds since the epoch")
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{body}".encode()


def cosign(body: str, witness_name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """One signature line: `— <witness name> base64(key ID || u64 timestamp || signature)`."""
    _check_key_name(witness_name)
    signature = private_key.sign(cosigned_message(body, timestamp))
    blob = key_hash(witness_name, private_key.public_key(), COSIGNATURE_ALGORITHM) + timestamp.to_bytes(8, "big")
    return f"{SIGNATURE_PREFIX}{witness_name} {b64encode(blob + signature)}\n"


def cosignature_timestamp(body: str, line: str, witness_vkey: str) -> int | None:
    """The time a signature line cosigned `body`, when the line is the given witness's (same
    name and key ID) and its signature verifies; None when the line is another key's (to be
    ignored, as the spec says); ValueError when it is this witness's and does not verify."""
    name, public_key = parse_verifier_key(witness_vkey, COSIGNATURE_ALGORITHM)
    line_name, blob = parse_signature_line(line.removesuffix("\n"))
    if line_name != name or blob[:4] != key_hash(name, public_key, COSIGNATURE_ALGORITHM):
        return None
    if len(blob) != 4 + 8 + 64:
        raise ValueError(f"the cosignature of {name} is not 72 bytes")
    timestamp = int.from_bytes(blob[4:12], "big")
    try:
        public_key.verify(blob[12:], cosigned_message(body, timestamp))
    except InvalidSignature as exc:
        raise ValueError(f"the cosignature of {name} does not verify") from exc
    return timestamp


@dataclass(frozen=True)
class Cosigners:
    """Who cosigned a checkpoint note: valid cosignatures by witness name (their timestamps),
    and the trusted witnesses whose line was there but did not verify."""

    valid: dict[str, int]
    invalid: list[str]


def cosigners(note: str, witness_vkeys: list[str]) -> Cosigners:
    """The trusted witnesses' cosignatures on a checkpoint note (lines of other keys ignored)."""
    text, lines = split_note(note)
    valid: dict[str, int] = {}
    invalid: list[str] = []
    for vkey in witness_vkeys:
        name = parse_verifier_key(vkey, COSIGNATURE_ALGORITHM)[0]
        for line in lines:
            try:
                timestamp = cosignature_timestamp(text, line, vkey)
            except ValueError:
                invalid.append(name)
                break
            if timestamp is not None:
                valid[name] = timestamp
                break
    return Cosigners(valid, invalid)


# --- The hub's JSON signed tree head ---------------------------------------------------------


def rfc3339_utc(moment: datetime) -> str:
    """UTC, whole seconds, 'Z' suffix: one spelling per instant, so signer and verifier agree
    byte for byte. Sub-second precision is dropped on purpose (tree heads are per second)."""
    if moment.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamp_text(timestamp: datetime | str) -> str:
    if isinstance(timestamp, datetime):
        return rfc3339_utc(timestamp)
    if not _RFC3339_UTC.fullmatch(timestamp):
        raise ValueError("timestamp must be an RFC 3339 UTC string like 2026-11-22T10:00:00Z")
    datetime.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S")  # rejects month 13 and the like
    return timestamp


def tree_head_message(tree_size: int, root_hash: bytes, timestamp: datetime | str) -> bytes:
    """The exact bytes a tree head signature covers: RFC 8785 canonical JSON of
    {"root_hash": base64, "timestamp": RFC 3339 UTC, "tree_size": int}."""
    if type(tree_size) is not int or not 0 <= tree_size <= MAX_JSON_INT:
        raise ValueError("tree size must be an integer in 0..2**53-1")
    if not isinstance(root_hash, bytes) or len(root_hash) != 32:
        raise ValueError("root hash must be 32 bytes")
    # RFC 8785 for this one dict is plain sorted, compact JSON: ASCII keys, a base64 string, a
    # validated timestamp (nothing to escape) and an integer within 2**53 (tests check the bytes
    # against the rfc8785 package); written out so this module needs no JSON canonicaliser.
    fields = {"root_hash": b64encode(root_hash), "timestamp": _timestamp_text(timestamp), "tree_size": tree_size}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")


def sign_tree_head(
    tree_size: int, root_hash: bytes, timestamp: datetime | str, private_key: Ed25519PrivateKey
) -> bytes:
    """64-byte Ed25519 signature over `tree_head_message`."""
    return private_key.sign(tree_head_message(tree_size, root_hash, timestamp))


def verify_tree_head(
    tree_size: int,
    root_hash: bytes,
    timestamp: datetime | str,
    signature: bytes,
    public_key: Ed25519PublicKey,
) -> bool:
    """True only for a valid signature over well-formed tree head fields; never raises on bad
    input, so callers cannot mistake an exception path for success."""
    try:
        message = tree_head_message(tree_size, root_hash, timestamp)
        public_key.verify(signature, message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# --- The hub's signing keys over time (rotation) -----------------------------------------------


@dataclass(frozen=True)
class TrustedKey:
    """A key the hub signed tree heads with, and when: a head verifies only with a key whose
    period holds the head's timestamp, so a retired key (or a stolen one) cannot sign history
    after it was retired. Both bounds inclusive (whole seconds: the old and the new key both hold
    in the second of the rotation); None is unbounded."""

    public_key: Ed25519PublicKey
    valid_from: str | None = None
    valid_until: str | None = None

    def covers(self, timestamp: str) -> bool:
        moment = instant(timestamp)
        return ((self.valid_from is None or instant(self.valid_from) <= moment)
                and (self.valid_until is None or moment <= instant(self.valid_until)))

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.public_key)


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """What the log and the pages call a key: the first 16 hex digits of SHA-256 of its raw bytes."""
    return hashlib.sha256(_raw_public_key(public_key)).hexdigest()[:16]


def instant(timestamp: str) -> datetime:
    """An RFC 3339 UTC time as an aware datetime (whole seconds); ValueError for anything else."""
    if not _RFC3339_UTC.fullmatch(timestamp):
        raise ValueError(f"not an RFC 3339 UTC time: {timestamp!r}")
    return datetime.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


def trusted(keys: Ed25519PublicKey | Sequence[TrustedKey]) -> tuple[TrustedKey, ...]:
    """One public key (trusted at any time) or a list of trusted keys, as a list."""
    return (TrustedKey(keys),) if isinstance(keys, Ed25519PublicKey) else tuple(keys)


def head_signer(keys: Ed25519PublicKey | Sequence[TrustedKey], tree_size: int, root_hash: bytes,
                timestamp: str, signature: bytes) -> TrustedKey | None:
    """The trusted key, valid at the head's timestamp, whose signature the head carries; None
    when none (a bad signature, an unknown key, or a key used outside its period)."""
    for key in trusted(keys):
        try:
            if not key.covers(timestamp):
                continue
        except (ValueError, TypeError):
            return None
        if verify_tree_head(tree_size, root_hash, timestamp, signature, key.public_key):
            return key
    return None


def trusted_keys_json(keys: Sequence[TrustedKey]) -> list[dict[str, str | None]]:
    """The list an offline verifier takes (`--trusted-keys`): each key as PEM with its period."""
    return [{"public_key": key.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode(),
             "fingerprint": key.fingerprint, "valid_from": key.valid_from, "valid_until": key.valid_until}
            for key in keys]


def parse_trusted_keys(data: object) -> list[TrustedKey]:
    """The JSON list of `trusted_keys_json`; ValueError naming what is wrong."""
    if not isinstance(data, list) or not data:
        raise ValueError("trusted keys must be a non-empty JSON list")
    keys = []
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict) or not isinstance(item.get("public_key"), str):
            raise ValueError(f"trusted key {number} has no public_key PEM")
        try:
            public_key = load_pem_public_key(item["public_key"].encode("utf-8"))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValueError(f"trusted key {number} is not a PEM public key") from exc
        if not isinstance(public_key, Ed25519PublicKey):
            raise ValueError(f"trusted key {number} is not an Ed25519 key")
        period = [item.get("valid_from"), item.get("valid_until")]
        for bound in period:
            if bound is not None and not (isinstance(bound, str) and _RFC3339_UTC.fullmatch(bound)):
                raise ValueError(f"trusted key {number}: a validity bound must be an RFC 3339 UTC time")
        keys.append(TrustedKey(public_key, *period))
    return keys
