"""Rotating the audit signing key (README, "Rotating the audit signing key"): a new key signs new
tree heads; heads and checkpoints the old key signed still verify, online and offline (with the
list of trusted keys and their periods); the log itself says when the key changed; the witnesses,
told to trust the new key, cosign on; and the retired key cannot sign history after its
retirement, whoever holds it."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text

from hub import create_app, db
from hub.audit import checkpoint, service, signing
from hub.audit import integrator as audit_integrator
from hub.audit import keys as audit_keys
from hub.audit import tree_heads as audit_tree_heads
from hub.models.audit import AuditEvent, SignedTreeHead
from hub.witness.__main__ import trust

REPO = Path(__file__).resolve().parents[2]


def _events(n: int) -> None:
    for i in range(n):
        with db.unit_of_work():
            service.record("read", object_type="child", object_id=i, child_id=i, detail={"i": i})
    audit_integrator.integrate_all()


def _new_pem() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _offline(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.audit.verify", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def rotation(app, runner, tmp_path):
    """The hub before and after a rotation: the old key retired (by the command an operator runs)
    and a new key configured, as a restart with the new settings would (the app is the test's own)."""
    retired_file = tmp_path / "retired-keys.json"

    def rotate() -> str:
        result = runner.invoke(args=["audit", "retire-key", "--file", str(retired_file)])
        assert result.exit_code == 0, result.output
        new_pem = _new_pem()
        app.config["HUB"] = replace(app.config["HUB"], audit_signing_key_pem=new_pem,
                                    audit_retired_keys=retired_file.read_text())
        audit_keys.init_app(app)
        return new_pem

    return rotate, retired_file


def test_heads_signed_before_and_after_a_rotation_verify_and_the_log_says_when(app, runner, rotation, tmp_path):
    rotate, retired_file = rotation
    old_key = audit_keys.signing_key().public_key()
    _events(3)
    old_head = audit_tree_heads.sign_tree_head()
    saved_head, saved_note = tmp_path / "old-head.json", tmp_path / "old-checkpoint.txt"
    assert runner.invoke(args=["audit", "tree-head", "--out", str(saved_head)]).exit_code == 0
    assert runner.invoke(args=["audit", "checkpoint", "--out", str(saved_note)]).exit_code == 0

    rotate()
    [retired] = json.loads(retired_file.read_text())
    assert retired["fingerprint"] == checkpoint.key_fingerprint(old_key) and retired["valid_until"]
    _events(2)
    new_head = audit_tree_heads.sign_tree_head()
    new_fingerprint = checkpoint.key_fingerprint(audit_keys.signing_key().public_key())
    assert new_fingerprint != retired["fingerprint"]

    # The log says when the key changed, inside what the new key's first head covers.
    changed = db.session().scalars(select(AuditEvent).where(AuditEvent.action == "key-changed")).all()
    assert len(changed) == 1 and changed[0].seq < new_head.tree_size
    assert json.loads(changed[0].detail) == {"from": retired["fingerprint"], "to": new_fingerprint,
                                             "retired_at": retired["valid_until"]}
    _events(1)
    audit_tree_heads.sign_tree_head()
    assert db.session().scalar(select(text("count(*)")).select_from(AuditEvent).where(
        AuditEvent.action == "key-changed")) == 1  # once, not at every head

    # Online: every head verifies with the key of its time, and the log extends the old head.
    full = runner.invoke(args=["audit", "verify"])
    assert full.exit_code == 0 and "3 signed tree heads verified" in full.output, full.output
    against = runner.invoke(args=["audit", "verify", "--against", str(saved_head)])
    assert against.exit_code == 0, against.output

    # Offline: the export (new key) against the checkpoint and the head the old key signed.
    keys_file, export_file = tmp_path / "trusted-keys.json", tmp_path / "export.json"
    assert runner.invoke(args=["audit", "trusted-keys", "--out", str(keys_file)]).exit_code == 0
    assert runner.invoke(args=["audit", "export", "--out", str(export_file)]).exit_code == 0
    for saved in (saved_note, saved_head):
        ok = _offline(export_file, "--trusted-keys", keys_file, "--against", saved)
        assert ok.returncode == 0 and "extends the saved checkpoint" in ok.stdout, ok.stdout + ok.stderr
    # Trusting the new key alone, the old checkpoint cannot be told from a forgery.
    only_new = tmp_path / "only-new.json"
    only_new.write_text(json.dumps(json.loads(keys_file.read_text())[-1:]))
    refused = _offline(export_file, "--trusted-keys", only_new, "--against", saved_note)
    assert refused.returncode == 1 and "no signature from key" in refused.stderr, refused.stderr
    assert old_head.id != new_head.id


def test_the_retired_key_cannot_sign_history_after_its_retirement(app, runner, rotation):
    rotate, retired_file = rotation
    old_private = audit_keys.signing_key()
    _events(2)
    audit_tree_heads.sign_tree_head()
    rotate()
    _events(2)
    audit_tree_heads.sign_tree_head()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    # Whoever kept the old key signs the log as it stands, dated after the retirement.
    until = checkpoint.instant(json.loads(retired_file.read_text())[0]["valid_until"])
    size = audit_tree_heads.tree_size()
    root = audit_tree_heads.root_at(size)
    later = checkpoint.rfc3339_utc(until + timedelta(hours=1))
    with db.unit_of_work() as s:
        forged = SignedTreeHead(tree_size=size, root_hash=root, timestamp=later,
                                signature=checkpoint.sign_tree_head(size, root, later, old_private))
        s.add(forged)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"tree head {forged.id} (size {size}): the signature is not valid" in result.output
    # The same signature dated inside the old key's period is genuine.
    assert checkpoint.head_signer(audit_keys.trusted_keys(), size, root, checkpoint.rfc3339_utc(until),
                                  checkpoint.sign_tree_head(size, root, checkpoint.rfc3339_utc(until), old_private))


def test_witnesses_told_of_the_new_key_cosign_on_across_the_rotation(app, runner, rotation, witnesses):
    rotate, _ = rotation
    _events(2)
    before = signing.sign_and_publish()
    assert signing.is_published(before)
    rotate()
    # Until a witness trusts the new key it refuses the checkpoint; the operator tells each one.
    for w in witnesses:
        trust(w.witness, audit_keys.log_verifier_key(signing.origin()))
    _events(2)
    after = signing.sign_and_publish()  # the witnesses' old-key checkpoints are anchors still
    assert signing.is_published(after) and after.tree_size > before.tree_size
    assert all(w.cosigned_size() == after.tree_size for w in witnesses)


def test_a_retired_key_never_signs_again_and_each_needs_its_end(app):
    old_pem = _new_pem()
    old_public = serialization.load_pem_private_key(old_pem.encode(), None).public_key()
    now = checkpoint.rfc3339_utc(datetime.now(UTC))
    with pytest.raises(ValueError, match="one of the retired keys"):
        audit_keys.signing_keys(old_pem, [checkpoint.TrustedKey(old_public, None, now)])
    with pytest.raises(ValueError, match="needs the time it was retired"):
        audit_keys.signing_keys(_new_pem(), [checkpoint.TrustedKey(old_public, None, None)])


@pytest.mark.parametrize("setting, message", [
    ("[{}]", "trusted key 1 has no public_key PEM"),
    ('[{"public_key": "not a key"}]', "trusted key 1 is not a PEM public key"),
    ("[]", "non-empty JSON list"),
    ("/no/such/file.json", "neither JSON nor a readable file"),
])
def test_a_malformed_retired_keys_setting_stops_start_up(database_url, monkeypatch, setting, message):
    monkeypatch.setenv("HUB_AUDIT_RETIRED_KEYS", setting)
    with pytest.raises(Exception, match=message):
        create_app({"env": "testing", "database_url": database_url})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _signed_by(head: dict, private_key: Ed25519PrivateKey, timestamp: str) -> dict:
    """The same tree (size and root) signed by `private_key` and dated `timestamp`."""
    root = base64.b64decode(head["root_hash"])
    return {**head, "timestamp": timestamp,
            "signature": _b64(checkpoint.sign_tree_head(head["tree_size"], root, timestamp, private_key))}


def _public_pem(private_key: Ed25519PrivateKey) -> str:
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_offline_a_head_signed_outside_its_keys_period_is_refused_and_inside_it_accepted(app, runner, rotation,
                                                                                        tmp_path):
    """The offline verifier with the trusted keys and their periods: the same tree signed by the
    retired key verifies when dated inside its period and is refused when dated after its
    retirement (whoever kept the old key); the new key's signature dated before its period is
    refused too; and a saved tree head forged the same way is refused as an anchor."""
    rotate, retired_file = rotation
    old_private = audit_keys.signing_key()
    _events(2)
    audit_tree_heads.sign_tree_head()
    new_pem = rotate()
    new_private = serialization.load_pem_private_key(new_pem.encode(), None)
    _events(2)
    audit_tree_heads.sign_tree_head()
    keys_file, export_file = tmp_path / "trusted-keys.json", tmp_path / "export.json"
    assert runner.invoke(args=["audit", "trusted-keys", "--out", str(keys_file)]).exit_code == 0
    assert runner.invoke(args=["audit", "export", "--out", str(export_file)]).exit_code == 0
    export = json.loads(export_file.read_text())
    assert _offline(export_file, "--trusted-keys", keys_file).returncode == 0

    [old, new] = json.loads(keys_file.read_text())
    until, since = checkpoint.instant(old["valid_until"]), checkpoint.instant(new["valid_from"])
    after_retirement = checkpoint.rfc3339_utc(until + timedelta(hours=1))
    before_new_key = checkpoint.rfc3339_utc(since - timedelta(hours=1))
    cases = {
        "old key, inside its period": (old_private, old["valid_until"], 0),
        "old key, after its retirement": (old_private, after_retirement, 1),
        "new key, before its period began": (new_private, before_new_key, 1),
    }
    for case, (key, timestamp, expected) in cases.items():
        forged = tmp_path / f"{case}.json"
        forged.write_text(json.dumps({**export, "public_key": _public_pem(key),
                                      "tree_head": _signed_by(export["tree_head"], key, timestamp)}))
        result = _offline(forged, "--trusted-keys", keys_file)
        assert result.returncode == expected, (case, result.stdout, result.stderr)
        if expected:
            assert "does not verify with any trusted key valid at its time" in result.stdout + result.stderr, case

    # A saved tree head is an anchor only when its key was valid at its time.
    saved = tmp_path / "saved-head.json"
    saved.write_text(json.dumps(_signed_by(export["tree_head"], old_private, after_retirement)))
    refused = _offline(export_file, "--trusted-keys", keys_file, "--against", saved)
    assert refused.returncode == 1
    assert "the saved tree head's signature does not verify" in refused.stdout + refused.stderr
    saved.write_text(json.dumps(_signed_by(export["tree_head"], old_private, old["valid_until"])))
    assert _offline(export_file, "--trusted-keys", keys_file, "--against", saved).returncode == 0


def test_online_a_saved_head_signed_after_its_keys_retirement_is_refused(app, runner, rotation, tmp_path):
    rotate, _ = rotation
    old_private = audit_keys.signing_key()
    _events(2)
    audit_tree_heads.sign_tree_head()
    rotate()
    _events(1)
    head = audit_tree_heads.sign_tree_head()
    retired = audit_keys.trusted_keys()[0]
    saved = tmp_path / "saved-head.json"
    as_json = {"tree_size": head.tree_size, "root_hash": _b64(head.root_hash)}
    saved.write_text(json.dumps(_signed_by(as_json, old_private,
                                           checkpoint.rfc3339_utc(checkpoint.instant(retired.valid_until)
                                                                  + timedelta(minutes=5)))))
    result = runner.invoke(args=["audit", "verify", "--against", str(saved)])
    assert result.exit_code == 1 and "the saved tree head's signature is not valid" in result.output, result.output
    saved.write_text(json.dumps(_signed_by(as_json, old_private, retired.valid_until)))
    assert runner.invoke(args=["audit", "verify", "--against", str(saved)]).exit_code == 0
