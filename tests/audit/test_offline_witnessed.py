"""The offline verifier with the witnesses' keys and a checkpoint saved earlier: an export counts
only when the quorum cosigned its checkpoint, and `--against` proves the log only grew since the
saved one; a rewritten or cut log exported with a genuine signature (an operator holding the key)
fails it, saying exactly what fails."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select, text

from hub import db
from hub.audit import export, signing
from hub.audit import keys as audit_keys
from hub.audit import tree_heads as audit_tree_heads
from hub.models.audit import AuditEvent
from tests.support.audit_log import disable_triggers, forced_head, record_events, rewrite_entry

REPO = Path(__file__).resolve().parents[2]


def verify(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.audit.verify", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def keys(tmp_path: Path, witnesses) -> list:
    pem = tmp_path / "hub-key.pem"
    pem.write_text(export.public_key_pem())
    args = ["--public-key", pem]
    for w in witnesses:
        args += ["--witness", w.witness.vkey]
    return args


def save(runner, tmp_path: Path) -> Path:
    saved = tmp_path / "saved-checkpoint.txt"
    result = runner.invoke(args=["audit", "checkpoint", "--out", str(saved)])
    assert result.exit_code == 0, result.output
    return saved


def run_export(runner, path: Path, *extra) -> Path:
    result = runner.invoke(args=["audit", "export", "--out", str(path), *extra])
    assert result.exit_code == 0, result.output
    return path


def test_an_export_cosigned_by_the_quorum_and_extending_the_saved_checkpoint_verifies(app, runner, witnesses, tmp_path):
    record_events(11)
    signing.sign_and_publish()
    saved = save(runner, tmp_path)
    size = int(saved.read_text().splitlines()[1])
    record_events(6)
    full = run_export(runner, tmp_path / "full.json")
    child = run_export(runner, tmp_path / "child.json", "--child", "1", "--prove-from", size)
    for path in (full, child):
        ok = verify(path, *keys(tmp_path, witnesses), "--against", saved)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "cosigned by at least 2 of the 2 witnesses" in ok.stdout and "extends the saved checkpoint" in ok.stdout
    bare = run_export(runner, tmp_path / "bare.json", "--child", "1")
    missing = verify(bare, *keys(tmp_path, witnesses), "--against", saved)
    assert missing.returncode == 1 and f"--prove-from {size}" in missing.stderr


def test_a_checkpoint_short_of_the_quorum_fails_and_names_the_missing_witness(app, runner, witnesses, tmp_path):
    record_events(5)
    witnesses[1].stop()  # the council's witness is down
    path = run_export(runner, tmp_path / "export.json")
    result = verify(path, *keys(tmp_path, witnesses))
    assert result.returncode == 1
    assert ("the checkpoint is cosigned by 1 of the trusted witnesses, the quorum is 2 "
            "(not cosigned by council.example.test/witness)") in result.stderr
    assert verify(path, *keys(tmp_path, witnesses), "--quorum", "1").returncode == 0
    assert verify(path, *keys(tmp_path, witnesses), "--quorum", "3").returncode == 2
    assert verify(path, "--witness", audit_keys.log_verifier_key(signing.origin())).returncode == 2  # a log key


def forged_export(path: Path) -> Path:
    """An export of whatever the database holds, under a genuine signature (as an operator with
    the signing key could make), bypassing every proof the hub makes."""
    head = forced_head()
    leaves = db.session().scalars(select(AuditEvent.leaf)
                                  .where(AuditEvent.seq.is_not(None), AuditEvent.seq < head.tree_size)
                                  .order_by(AuditEvent.seq))
    data = {"format": export.FORMAT, "public_key": export.public_key_pem(), "tree_head": export.tree_head_json(head),
            "checkpoint": audit_tree_heads.checkpoint_note(signing.origin(), head),
            "entries": [{"index": i, "leaf": base64.b64encode(leaf).decode()} for i, leaf in enumerate(leaves)]}
    path.write_text(json.dumps(data))
    return path


def test_a_rewritten_log_signed_with_the_hub_s_own_key_fails_against_the_saved_checkpoint(app, runner, witnesses,
                                                                                          tmp_path):
    record_events(9)
    signing.sign_and_publish()
    saved = save(runner, tmp_path)
    disable_triggers()
    rewrite_entry(4)
    path = forged_export(tmp_path / "rewritten.json")
    keys(tmp_path, witnesses)  # writes hub-key.pem
    assert verify(path, "--public-key", tmp_path / "hub-key.pem").returncode == 0  # it looks perfect on its own...
    result = verify(path, "--public-key", tmp_path / "hub-key.pem", "--against", saved)
    assert result.returncode == 1 and "rewritten" in result.stderr  # ...but not against what was saved
    cosigned = verify(path, *keys(tmp_path, witnesses))
    assert cosigned.returncode == 1 and "quorum is 2" in cosigned.stderr  # and no witness cosigned it


def test_a_cut_log_fails_against_the_saved_checkpoint(app, runner, witnesses, tmp_path):
    record_events(9)
    signing.sign_and_publish()
    saved = save(runner, tmp_path)
    disable_triggers()
    with db.unit_of_work() as s:
        s.execute(text("DELETE FROM audit_event WHERE seq >= 5"))
        s.execute(text("UPDATE audit_head SET tree_size = 5"))
    path = forged_export(tmp_path / "cut.json")
    result = verify(path, *keys(tmp_path, witnesses)[:2], "--against", saved)
    assert result.returncode == 1
    assert "the export's log has 5 entries, fewer than the" in result.stderr
