"""The offline export verifier, run the way a DPO would run it: `python -m hub.audit.verify`."""

from __future__ import annotations

import ast
import base64
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.audit import verify
from hub.audit.checkpoint import sign_tree_head
from hub.audit.merkle import CompactRange, inclusion_proof, leaf_hash
from tests.support import pysource

REPO = Path(__file__).resolve().parents[2]
TIMESTAMP = "2026-11-22T10:00:00Z"
SIZE = 13


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def make_export(
    key: Ed25519PrivateKey, size: int = SIZE, indexes: list[int] | None = None, proofs: bool = False
) -> dict:
    """An export as the hub would write it: the whole log when `indexes` is None."""
    leaves = [json.dumps({"seq": i, "action": f"case.viewed.{i}"}).encode() for i in range(size)]
    nodes: dict[tuple[int, int], bytes] = {}
    acc = CompactRange()
    for i, leaf in enumerate(leaves):
        nodes[(0, i)] = leaf_hash(leaf)
        for level, index, value in acc.append(nodes[(0, i)]):
            nodes[(level, index)] = value
    root = acc.root()
    get_node = lambda level, index: nodes[(level, index)]  # noqa: E731
    entries = []
    for i in range(size) if indexes is None else indexes:
        entry = {"index": i, "leaf": b64(leaves[i])}
        if proofs:
            entry["inclusion_proof"] = [b64(h) for h in inclusion_proof(i, size, get_node)]
        entries.append(entry)
    return {
        "format": verify.FORMAT,
        "public_key": pem(key),
        "tree_head": {
            "tree_size": size,
            "root_hash": b64(root),
            "timestamp": TIMESTAMP,
            "signature": b64(sign_tree_head(size, root, TIMESTAMP, key)),
        },
        "entries": entries,
    }


def run(tmp_path: Path, export: dict | str, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "export.json"
    path.write_text(export if isinstance(export, str) else json.dumps(export, indent=1))
    return subprocess.run(
        [sys.executable, "-m", "hub.audit.verify", str(path), *args],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )


def flip_leaf(export: dict, position: int) -> None:
    leaf = bytearray(base64.b64decode(export["entries"][position]["leaf"]))
    leaf[3] ^= 0x01
    export["entries"][position]["leaf"] = b64(bytes(leaf))


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def full(key: Ed25519PrivateKey) -> dict:
    return make_export(key)


@pytest.fixture(scope="module")
def partial(key: Ed25519PrivateKey) -> dict:
    return make_export(key, indexes=[0, 4, 5, 11, 12], proofs=True)


# --- Through the command line ----------------------------------------------------------------


def test_valid_full_export_exits_0(tmp_path: Path, full: dict) -> None:
    result = run(tmp_path, full)
    assert result.returncode == 0, result.stderr
    assert f"{SIZE} entries checked" in result.stdout
    assert f"tree size {SIZE}" in result.stdout
    assert full["tree_head"]["root_hash"] in result.stdout


def test_valid_partial_export_with_proofs_exits_0(tmp_path: Path, partial: dict) -> None:
    result = run(tmp_path, partial)
    assert result.returncode == 0, result.stderr
    assert "5 entries checked (inclusion proofs verified)" in result.stdout


def test_pinned_key_that_matches_exits_0(tmp_path: Path, key: Ed25519PrivateKey, partial: dict) -> None:
    pinned = tmp_path / "hub.pem"
    pinned.write_text(pem(key))
    assert run(tmp_path, partial, "--public-key", str(pinned)).returncode == 0


def test_flipped_leaf_byte_names_the_entry(tmp_path: Path, partial: dict) -> None:
    export = copy.deepcopy(partial)
    flip_leaf(export, 3)  # the entry with index 11
    result = run(tmp_path, export)
    assert result.returncode == 1
    assert "entry 11:" in result.stderr and "inclusion proof does not verify" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_flipped_leaf_byte_in_full_export_with_proofs_names_the_entry(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    export = make_export(key, proofs=True)
    flip_leaf(export, 7)
    result = run(tmp_path, export)
    assert result.returncode == 1 and "entry 7:" in result.stderr


def test_flipped_leaf_byte_in_full_export_without_proofs_fails(tmp_path: Path, full: dict) -> None:
    export = copy.deepcopy(full)
    flip_leaf(export, 7)
    result = run(tmp_path, export)
    assert result.returncode == 1
    assert "recomputed root does not match" in result.stderr


def test_removed_entry_fails(tmp_path: Path, full: dict, partial: dict) -> None:
    export = copy.deepcopy(full)
    del export["entries"][6]
    result = run(tmp_path, export)
    assert result.returncode == 1 and "entry 6: missing" in result.stderr
    # Dropping an entry from a partial export is not detectable, by design: it only ever
    # claimed to hold some entries. Its remaining entries still verify.
    export = copy.deepcopy(partial)
    del export["entries"][2]
    assert run(tmp_path, export).returncode == 0


def test_reordered_entries_fail(tmp_path: Path, full: dict, partial: dict) -> None:
    for original, first, second in [(full, 3, 4), (partial, 1, 2)]:
        export = copy.deepcopy(original)
        entries = export["entries"]
        entries[first], entries[second] = entries[second], entries[first]
        result = run(tmp_path, export)
        assert result.returncode == 1, result.stdout
        assert "out of order" in result.stderr
    # Swapping the contents but keeping the indexes in order: caught by the hashes instead.
    export = copy.deepcopy(full)
    entries = export["entries"]
    entries[3]["leaf"], entries[4]["leaf"] = entries[4]["leaf"], entries[3]["leaf"]
    assert run(tmp_path, export).returncode == 1


def test_edited_tree_size_fails(tmp_path: Path, full: dict, partial: dict) -> None:
    for original in (full, partial):
        export = copy.deepcopy(original)
        export["tree_head"]["tree_size"] -= 1
        result = run(tmp_path, export)
        assert result.returncode == 1
        assert "signature does not verify" in result.stderr


def test_edited_signature_fails(tmp_path: Path, full: dict) -> None:
    export = copy.deepcopy(full)
    signature = bytearray(base64.b64decode(export["tree_head"]["signature"]))
    signature[0] ^= 0x80
    export["tree_head"]["signature"] = b64(bytes(signature))
    result = run(tmp_path, export)
    assert result.returncode == 1 and "signature does not verify" in result.stderr


def test_wrong_pinned_key_fails(tmp_path: Path, full: dict) -> None:
    pinned = tmp_path / "hub.pem"
    pinned.write_text(pem(Ed25519PrivateKey.generate()))
    result = run(tmp_path, full, "--public-key", str(pinned))
    assert result.returncode == 1 and "not the pinned public key" in result.stderr


def test_re_signed_forgery_fails_only_with_a_pinned_key(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    """Someone who edits a leaf and re-signs with their own key fools an unpinned check, which
    is why the hub's key must be pinned."""
    forger = Ed25519PrivateKey.generate()
    forged = make_export(forger)
    assert run(tmp_path, forged).returncode == 0
    pinned = tmp_path / "hub.pem"
    pinned.write_text(pem(key))
    assert run(tmp_path, forged, "--public-key", str(pinned)).returncode == 1


def test_malformed_json_exits_2(tmp_path: Path, full: dict) -> None:
    result = run(tmp_path, json.dumps(full)[:-5])
    assert result.returncode == 2 and "not valid JSON" in result.stderr


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        '{"format": "hub-audit-export/2"}',
        '{"format": "hub-audit-export/1", "public_key": "x", "tree_head": {}, "entries": {}}',
        '{"format": "hub-audit-export/1", "format": "hub-audit-export/1"}',
        '{"format": "hub-audit-export/1", "n": NaN}',
        "\xff",
    ],
)
def test_wrong_format_exits_2(tmp_path: Path, text: str) -> None:
    result = run(tmp_path, text)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("ERROR:")


def test_missing_file_and_bad_pinned_key_exit_2(tmp_path: Path, full: dict) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub.audit.verify", str(tmp_path / "nope.json")],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    bad_pem = tmp_path / "bad.pem"
    bad_pem.write_text("not a key")
    assert run(tmp_path, full, "--public-key", str(bad_pem)).returncode == 2


def test_verifier_needs_only_stdlib_and_cryptography(tmp_path: Path) -> None:
    """Importing the verifier must not drag in Flask, SQLAlchemy, rfc8785 or the app."""
    probe = (
        "import sys, hub.audit.verify\n"
        "names = {m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names)\n"
        "print(sorted(n for n in names if not n.startswith('_')))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'hub'))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True)
    third_party, hub_modules = (json.loads(line.replace("'", '"')) for line in result.stdout.splitlines())
    assert set(third_party) <= {"cryptography", "cffi", "hub"}, third_party
    assert set(hub_modules) <= {"hub", "hub.audit", "hub.audit.merkle", "hub.audit.checkpoint", "hub.audit.verify"}
    for module in ("merkle.py", "checkpoint.py", "verify.py"):
        tree = pysource.parse_file(REPO / "hub" / "audit" / module)
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        outside = {m for m in imported if m.split(".")[0] not in sys.stdlib_module_names}
        assert outside <= {"cryptography.exceptions", "cryptography.hazmat.primitives.asymmetric.ed25519",
                           "cryptography.hazmat.primitives.serialization", "hub.audit.merkle", "hub.audit"}, outside
        if module == "merkle.py":
            assert not outside


# --- verify_export directly --------------------------------------------------------------------


def test_verify_export_accepts_good_exports(key: Ed25519PrivateKey, full: dict, partial: dict) -> None:
    assert verify.verify_export(full, None) == []
    assert verify.verify_export(partial, pem(key)) == []
    assert verify.verify_export(make_export(key, size=0), None) == []
    assert verify.verify_export(make_export(key, size=1), None) == []
    assert verify.verify_export(make_export(key, size=1, proofs=True), None) == []
    # No entries at all proves nothing about a non-empty log: refused rather than "0 checked, OK".
    assert verify.verify_export(make_export(key, size=40, indexes=[]), None)[0].startswith("entry 0: missing")


def test_verify_export_structural_problems(partial: dict) -> None:
    def errors_after(edit) -> list[str]:
        export = copy.deepcopy(partial)
        edit(export["entries"])
        return verify.verify_export(export, None)

    assert errors_after(lambda e: e.append(dict(e[-1])))[0].startswith("entry 12: duplicate index")
    assert errors_after(lambda e: e.append(dict(e[0], index=13)))[0].startswith("entry 13: index out of range")
    assert errors_after(lambda e: e.append(dict(e[0], index=-1)))[0].startswith("entry -1: index out of range")
    assert "not an integer" in errors_after(lambda e: e[1].update(index=True))[0]
    assert "not an integer" in errors_after(lambda e: e[1].update(index="4"))[0]
    assert errors_after(lambda e: e[1].update(leaf="not base64!"))[0].startswith("entry 4: leaf")
    assert errors_after(lambda e: e[2].update(inclusion_proof=None))[0].startswith("entry 5: no inclusion proof")
    assert errors_after(lambda e: e[2].update(inclusion_proof="x"))[0].startswith("entry 5: inclusion_proof")
    assert errors_after(lambda e: e[2]["inclusion_proof"].pop())[0].startswith("entry 5: inclusion proof does not")
    assert errors_after(lambda e: e[2]["inclusion_proof"].append(e[2]["inclusion_proof"][0]))[0].startswith(
        "entry 5:"
    )
    assert errors_after(lambda e: e.insert(0, "junk"))[0] == "entry at position 0: not an object"
    # Every bad entry is reported, first one first.
    export = copy.deepcopy(partial)
    flip_leaf(export, 1)
    flip_leaf(export, 4)
    assert [e.split(":")[0] for e in verify.verify_export(export, None)] == ["entry 4", "entry 12"]


def test_verify_export_tree_head_problems(full: dict) -> None:
    for field, value in [("tree_size", "13"), ("tree_size", -1), ("tree_size", 2**53), ("root_hash", "AAAA"),
                         ("timestamp", "yesterday"), ("signature", "c2ln"), ("signature", None)]:
        export = copy.deepcopy(full)
        export["tree_head"][field] = value
        errors = verify.verify_export(export, None)
        assert errors and errors[0].startswith(f"tree_head.{field}"), (field, errors)
    export = copy.deepcopy(full)
    export["public_key"] = "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"
    assert verify.verify_export(export, None) == ["public_key is not a PEM public key"]
    assert verify.verify_export({"format": "other"}, None)[0].startswith("unknown export format")
