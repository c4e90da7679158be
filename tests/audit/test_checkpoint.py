"""C2SP checkpoints and signed notes, and the hub's canonical JSON tree head."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.audit.checkpoint import (
    checkpoint_body,
    open_note,
    parse_checkpoint_body,
    parse_verifier_key,
    rfc3339_utc,
    sign_note,
    sign_tree_head,
    tree_head_message,
    verifier_key,
    verify_note,
    verify_tree_head,
)
from hub.audit.merkle import leaf_hash

ORIGIN = "hub.example.gov.uk/audit"
ROOT = leaf_hash(b"root stand-in")

# Known answer from golang.org/x/mod/sumdb/note (note_test.go / package docs). Ed25519 is
# deterministic, so producing this note byte for byte shows the wire format interoperates.
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann "
    + "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
GO_PUBLIC_KEY = base64.b64decode(GO_VERIFIER_KEY.split("+", 2)[2])[1:]


def go_private_key() -> Ed25519PrivateKey:
    material = base64.b64decode(GO_SIGNER_KEY.split("+", 4)[4])  # 0x01 || 32-byte seed
    assert material[0] == 1
    return Ed25519PrivateKey.from_private_bytes(material[1:])


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def vkey(key: Ed25519PrivateKey) -> str:
    return verifier_key(ORIGIN, key.public_key())


# --- signed-note known answers -----------------------------------------------------------------


def test_go_known_answer() -> None:
    private_key = go_private_key()
    assert verifier_key("PeterNeumann", private_key.public_key()) == GO_VERIFIER_KEY
    assert sign_note(GO_TEXT, "PeterNeumann", private_key) == GO_NOTE
    assert open_note(GO_NOTE, GO_VERIFIER_KEY) == GO_TEXT
    with pytest.raises(ValueError):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), GO_VERIFIER_KEY)
    with pytest.raises(ValueError):  # a valid note, but not a checkpoint
        verify_note(GO_NOTE, GO_VERIFIER_KEY)


def test_checkpoint_body_format() -> None:
    body = checkpoint_body(ORIGIN, 20852163, ROOT)
    assert body == f"{ORIGIN}\n20852163\n{base64.b64encode(ROOT).decode()}\n"
    assert parse_checkpoint_body(body) == (ORIGIN, 20852163, ROOT)
    assert checkpoint_body(ORIGIN, 0, ROOT).split("\n")[1] == "0"
    for args in [("", 1, ROOT), ("two\nlines", 1, ROOT), (ORIGIN, -1, ROOT), (ORIGIN, 1, ROOT[:31]),
                 (ORIGIN, True, ROOT), (ORIGIN, 1, "x" * 32)]:
        with pytest.raises(ValueError):
            checkpoint_body(*args)


# --- signed checkpoint round trips and tampering ---------------------------------------------


def test_round_trip(key: Ed25519PrivateKey, vkey: str) -> None:
    note = sign_note(checkpoint_body(ORIGIN, 42, ROOT), ORIGIN, key)
    assert note.startswith(f"{ORIGIN}\n42\n")
    signature_line = note.split("\n")[4]
    assert signature_line.startswith(f"\u2014 {ORIGIN} ")
    blob = base64.b64decode(signature_line.split(" ")[2])
    assert len(blob) == 4 + 64 and blob[:4].hex() == vkey.split("+")[1]
    assert verify_note(note, vkey) == (ORIGIN, 42, ROOT)


def test_verifier_key_round_trip(key: Ed25519PrivateKey, vkey: str) -> None:
    name, public_key = parse_verifier_key(vkey)
    assert name == ORIGIN
    assert verifier_key(name, public_key) == vkey


def test_tampered_body_is_rejected(key: Ed25519PrivateKey, vkey: str) -> None:
    note = sign_note(checkpoint_body(ORIGIN, 42, ROOT), ORIGIN, key)
    for tampered in [note.replace("\n42\n", "\n43\n"), note.replace(ORIGIN + "\n", ORIGIN + "x\n", 1),
                     note.replace(base64.b64encode(ROOT).decode(), base64.b64encode(leaf_hash(b"x")).decode())]:
        with pytest.raises(ValueError):
            verify_note(tampered, vkey)


def test_tampered_signature_is_rejected(key: Ed25519PrivateKey, vkey: str) -> None:
    note = sign_note(checkpoint_body(ORIGIN, 42, ROOT), ORIGIN, key)
    body, line = note[: note.rindex("\n\n") + 2], note[note.rindex("\n\n") + 2 :]
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[10] ^= 1
    bad = body + f"\u2014 {ORIGIN} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(ValueError, match="does not verify"):
        verify_note(bad, vkey)
    with pytest.raises(ValueError):  # ASCII hyphen instead of the em dash
        verify_note(note.replace("\u2014", "-"), vkey)
    with pytest.raises(ValueError):  # truncated: no trailing newline
        verify_note(note[:-1], vkey)
    with pytest.raises(ValueError):  # no signatures at all
        verify_note(body, vkey)


def test_wrong_key_is_rejected(key: Ed25519PrivateKey, vkey: str) -> None:
    note = sign_note(checkpoint_body(ORIGIN, 42, ROOT), ORIGIN, key)
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(ValueError, match="no signature"):  # same name, different key hash
        verify_note(note, verifier_key(ORIGIN, other))
    with pytest.raises(ValueError, match="no signature"):  # same key, different name
        verify_note(note, verifier_key("someone.else/log", key.public_key()))


def test_unknown_cosignatures_are_ignored(key: Ed25519PrivateKey, vkey: str) -> None:
    body = checkpoint_body(ORIGIN, 7, ROOT)
    ours = sign_note(body, ORIGIN, key)
    witness = sign_note(body, "witness.example", Ed25519PrivateKey.generate())
    both = ours + witness[witness.rindex("\n\n") + 2 :]
    assert verify_note(both, vkey) == (ORIGIN, 7, ROOT)
    witness_first = witness + ours[ours.rindex("\n\n") + 2 :]
    assert verify_note(witness_first, vkey) == (ORIGIN, 7, ROOT)


def test_extension_lines_are_signed_but_ignored(key: Ed25519PrivateKey, vkey: str) -> None:
    body = checkpoint_body(ORIGIN, 7, ROOT) + "extension line\n"
    assert verify_note(sign_note(body, ORIGIN, key), vkey) == (ORIGIN, 7, ROOT)


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n042\n{base64.b64encode(ROOT).decode()}\n",  # leading zero
        f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n+1\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",  # short root
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode().rstrip('=')}\n",  # unpadded
        f"{ORIGIN}\n1\n",
        f"\n1\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}\n\n\n",
    ],
)
def test_malformed_checkpoint_bodies_are_rejected(body: str, key: Ed25519PrivateKey, vkey: str) -> None:
    with pytest.raises(ValueError):
        parse_checkpoint_body(body)
    try:
        note = sign_note(body, ORIGIN, key)
    except ValueError:
        return
    with pytest.raises(ValueError):
        verify_note(note, vkey)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key hash
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+" + base64.b64encode(b"\x02" + GO_PUBLIC_KEY).decode(),  # not Ed25519
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_malformed_verifier_keys_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_verifier_key(bad)
    with pytest.raises(ValueError):
        verify_note(GO_NOTE, bad)


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\tname", "line\nbreak"])
def test_bad_key_names_are_refused(name: str, key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError):
        sign_note("text\n", name, key)
    with pytest.raises(ValueError):
        verifier_key(name, key.public_key())


def test_note_text_rules(key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError):
        sign_note("no final newline", ORIGIN, key)
    with pytest.raises(ValueError):
        sign_note("control\x07char\n", ORIGIN, key)


# --- canonical JSON tree head ----------------------------------------------------------------


def test_tree_head_message_exact_bytes() -> None:
    root = bytes(range(32))
    message = tree_head_message(5, root, "2026-11-22T10:00:00Z")
    assert message == (
        b'{"root_hash":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",'
        b'"timestamp":"2026-11-22T10:00:00Z","tree_size":5}'
    )
    assert message == rfc8785.dumps(
        {"tree_size": 5, "timestamp": "2026-11-22T10:00:00Z", "root_hash": base64.b64encode(root).decode()}
    )


@pytest.mark.parametrize("size", [0, 1, 9, 10, 1_000_000, 2**32, 2**53 - 1])
@pytest.mark.parametrize("timestamp", ["2026-11-22T10:00:00Z", "1999-12-31T23:59:59.123456Z"])
def test_offline_canonical_json_matches_rfc8785(size: int, timestamp: str) -> None:
    root = leaf_hash(size.to_bytes(8, "big"))
    expected = rfc8785.dumps(
        {"root_hash": base64.b64encode(root).decode(), "timestamp": timestamp, "tree_size": size}
    )
    assert tree_head_message(size, root, timestamp) == expected  # the offline verifier uses the same function


def test_tree_head_message_rejects_bad_fields() -> None:
    for args in [(-1, ROOT, "2026-11-22T10:00:00Z"), (2**53, ROOT, "2026-11-22T10:00:00Z"),
                 (1, ROOT[:5], "2026-11-22T10:00:00Z"), (1, ROOT, "2026-11-22 10:00:00Z"),
                 (1, ROOT, "2026-11-22T10:00:00+00:00"), (1, ROOT, "2026-13-22T10:00:00Z"),
                 (True, ROOT, "2026-11-22T10:00:00Z"), (1, ROOT, datetime(2026, 11, 22))]:
        with pytest.raises(ValueError):
            tree_head_message(*args)


def test_datetime_timestamps_are_normalised_to_utc_seconds() -> None:
    moment = datetime(2026, 11, 22, 11, 0, 0, 987654, tzinfo=timezone(timedelta(hours=1)))
    assert rfc3339_utc(moment) == "2026-11-22T10:00:00Z"
    assert tree_head_message(3, ROOT, moment) == tree_head_message(3, ROOT, "2026-11-22T10:00:00Z")


def test_tree_head_sign_and_verify(key: Ed25519PrivateKey) -> None:
    public_key = key.public_key()
    ts = "2026-11-22T10:00:00Z"
    signature = sign_tree_head(12, ROOT, ts, key)
    assert len(signature) == 64
    assert verify_tree_head(12, ROOT, ts, signature, public_key)
    public_key.verify(signature, tree_head_message(12, ROOT, ts))  # plain Ed25519 over the JSON
    assert not verify_tree_head(13, ROOT, ts, signature, public_key)
    assert not verify_tree_head(12, leaf_hash(b"other"), ts, signature, public_key)
    assert not verify_tree_head(12, ROOT, "2026-11-22T10:00:01Z", signature, public_key)
    assert not verify_tree_head(12, ROOT, ts, signature[:-1] + bytes([signature[-1] ^ 1]), public_key)
    assert not verify_tree_head(12, ROOT, ts, signature, Ed25519PrivateKey.generate().public_key())
    assert not verify_tree_head(12, ROOT, ts, b"short", public_key)
    assert not verify_tree_head(12, ROOT, "not a time", signature, public_key)
