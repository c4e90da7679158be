"""An independent check of the hub's checkpoints and the witnesses' cosignatures: Go's
golang.org/x/mod/sumdb/note (Debian's golang-golang-x-mod-dev, installed by .ci/run) opens them
through tests/audit/gonote, a small Go program that adds a cosignature/v1 verifier written from
the C2SP specification. Nothing is downloaded: Go builds in GOPATH mode from Debian's sources."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hub.audit import keys as audit_keys
from hub.audit import signing
from hub.audit import tree_heads as audit_tree_heads
from tests.support.audit_log import record_events

GO = shutil.which("go")
GOPATH = Path("/usr/share/gocode")
NOTE_PACKAGE = GOPATH / "src/golang.org/x/mod/sumdb/note"
SOURCE = Path(__file__).parent / "gonote"

pytestmark = pytest.mark.skipif(
    GO is None or not NOTE_PACKAGE.exists(),
    reason="SKIPPED LOUDLY: the independent Go check of signed notes needs `go` and Debian's "
           "golang-golang-x-mod-dev (apt-get install golang-go golang-golang-x-mod-dev; .ci/run does)")


@pytest.fixture(scope="session")
def gonote(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gonote")
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOCACHE": str(out / "cache"),
           "GOFLAGS": "", "GOPROXY": "off", "CGO_ENABLED": "0"}
    built = subprocess.run([GO, "build", "-o", str(out / "gonote"), "."], cwd=SOURCE, env=env,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    return out / "gonote"


def go_open(gonote: Path, note: str, *vkeys: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(gonote), *vkeys], input=note, capture_output=True, text=True, timeout=60)


def test_go_s_note_package_verifies_the_hub_s_checkpoint_and_both_cosignatures(app, witnesses, gonote):
    record_events(9)
    head = signing.sign_and_publish()
    note = audit_tree_heads.checkpoint_note(signing.origin(), head)
    log_vkey = audit_keys.log_verifier_key(signing.origin())
    opened = go_open(gonote, note, log_vkey, *(w.witness.vkey for w in witnesses))
    assert opened.returncode == 0, opened.stdout + opened.stderr
    names = sorted(line.split()[0] for line in opened.stdout.splitlines())
    assert names == sorted([signing.origin(), "police.example.test/witness", "council.example.test/witness"])
    # Go computes the same key IDs: the hub's (type 0x01) and each witness's (type 0x04).
    hashes = dict(line.split() for line in opened.stdout.splitlines())
    assert hashes[signing.origin()] == log_vkey.split("+")[1]
    assert all(hashes[w.name] == w.witness.vkey.split("+")[1] for w in witnesses)
    # Only the log's key given: the cosignatures are other keys' and ignored, the note opens.
    assert go_open(gonote, note, log_vkey).returncode == 0


def test_go_s_note_package_refuses_an_altered_checkpoint_or_cosignature(app, witnesses, gonote):
    record_events(4)
    head = signing.sign_and_publish()
    note = audit_tree_heads.checkpoint_note(signing.origin(), head)
    log_vkey = audit_keys.log_verifier_key(signing.origin())
    keys = [log_vkey, *(w.witness.vkey for w in witnesses)]
    altered = note.replace(f"\n{head.tree_size}\n", f"\n{head.tree_size + 1}\n", 1)
    assert go_open(gonote, altered, *keys).returncode == 1
    police = next(line for line in note.splitlines() if line.startswith("\u2014 police."))
    name, blob = police.rsplit(" ", 1)
    flipped = blob[:20] + ("A" if blob[20] != "A" else "B") + blob[21:]
    result = go_open(gonote, note.replace(police, f"{name} {flipped}"), *keys)
    assert result.returncode == 1 and "police.example.test/witness" in result.stdout
