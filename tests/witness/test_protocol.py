"""The witness follows C2SP tlog-witness and tlog-cosignature byte for byte: the request body,
the status codes in the order the specification gives them (404, 403, 400, 409 with its size as
text/x.tlog.size, 422, 200 with a cosignature/v1 line), the signed message and the key ID, tested
with the specification's own examples where it gives them, over real HTTP on loopback."""

from __future__ import annotations

import base64
import hashlib
import threading
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from werkzeug.serving import make_server

from hub.audit import checkpoint, merkle
from hub.witness.__main__ import init, main, trust
from hub.witness.app import make_app
from hub.witness.core import parse_request

ORIGIN = "example.com/behind-the-sofa"

# --- the specification's examples (tlog-witness.md, tlog-cosignature.md) ----------------------

SPEC_REQUEST = """old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
\u2014 example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
"""  # noqa: E501 - the specification's signature lines, exactly
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
# tlog-cosignature's example line (the specification's text wraps it with a literal "\n").
SPEC_COSIGNATURE = ("\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJ"
                    "sX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==")
SPEC_SIGNED_MESSAGE = ("cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
                       "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")


def test_the_specification_s_example_request_parses_as_it_says():
    request = parse_request(SPEC_REQUEST.encode())
    assert request.old_size == 20852014 and len(request.proof) == 4
    assert request.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert request.origin == ORIGIN and request.text == SPEC_BODY
    assert checkpoint.parse_checkpoint_body(request.text)[1] == 20852163


def test_the_cosigned_message_is_the_specification_s_example_byte_for_byte():
    assert checkpoint.cosigned_message(SPEC_BODY, 1679315147) == SPEC_SIGNED_MESSAGE.encode()
    name, blob = checkpoint.parse_signature_line(SPEC_COSIGNATURE)
    assert name == "witness.example.com/w1" and len(blob) == 4 + 8 + 64  # key ID || u64 time || Ed25519
    assert int.from_bytes(blob[4:12], "big") == 1679315147  # the example message's "time" line


def test_a_cosignature_has_the_key_id_of_type_0x04_and_verifies_only_over_its_own_checkpoint():
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes_raw()
    line = checkpoint.cosign(SPEC_BODY, "witness.example.com/w1", key, 1679315147)
    _, blob = checkpoint.parse_signature_line(line.removesuffix("\n"))
    assert blob[:4] == hashlib.sha256(b"witness.example.com/w1\n\x04" + raw).digest()[:4]
    assert blob[4:12] == (1679315147).to_bytes(8, "big")
    key.public_key().verify(blob[12:], SPEC_SIGNED_MESSAGE.encode())  # raises if not
    vkey = checkpoint.verifier_key("witness.example.com/w1", key.public_key(), checkpoint.COSIGNATURE_ALGORITHM)
    assert vkey.split("+", 2)[2] == base64.b64encode(b"\x04" + raw).decode()
    assert checkpoint.cosignature_timestamp(SPEC_BODY, line, vkey) == 1679315147
    other = SPEC_BODY.replace("20852163", "20852164")
    with pytest.raises(ValueError, match="does not verify"):
        checkpoint.cosignature_timestamp(other, line, vkey)
    log_vkey = checkpoint.verifier_key("witness.example.com/w1", key.public_key())  # same key, type 0x01
    with pytest.raises(ValueError):
        checkpoint.parse_verifier_key(log_vkey, checkpoint.COSIGNATURE_ALGORITHM)
    assert checkpoint.cosignature_timestamp(SPEC_BODY, SPEC_COSIGNATURE, vkey) is None  # another key: ignored


# --- a witness over HTTP ------------------------------------------------------------------------

class Log:
    """A log of our own: leaves, its signing key, its checkpoints and consistency proofs."""

    def __init__(self, origin: str = ORIGIN) -> None:
        self.origin, self.key, self.leaves = origin, Ed25519PrivateKey.generate(), []
        self.vkey = checkpoint.verifier_key(origin, self.key.public_key())

    def grow(self, n: int) -> None:
        self.leaves += [merkle.leaf_hash(f"{self.origin} {len(self.leaves) + i}".encode()) for i in range(n)]

    def root(self, size: int | None = None) -> bytes:
        return merkle.root_from_leaf_hashes(self.leaves[:len(self.leaves) if size is None else size])

    def note(self, size: int | None = None, root: bytes | None = None, key=None) -> str:
        size = len(self.leaves) if size is None else size
        body = checkpoint.checkpoint_body(self.origin, size, root or self.root(size))
        return checkpoint.sign_note(body, self.origin, key or self.key)

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = len(self.leaves) if new is None else new
        tree = {}
        for level in range(0, 64):
            width = 1 << level
            for index in range(new // width):
                tree[(level, index)] = merkle.root_from_leaf_hashes(self.leaves[index * width:(index + 1) * width])
            if width > new:
                break
        return merkle.consistency_proof(old, new, lambda level, index: tree[(level, index)])

    def body(self, old: int, proof: list[bytes] | None = None, note: str | None = None) -> bytes:
        lines = [f"old {old}\n"] + [base64.b64encode(h).decode() + "\n" for h in (proof or [])]
        return ("".join(lines) + "\n" + (note or self.note())).encode()


@pytest.fixture
def served(tmp_path: Path):
    witness = init(tmp_path / "w", "witness.example.com/w1")
    server = make_server("127.0.0.1", 0, make_app(witness), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield witness, f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(10)


def post(url: str, body: bytes) -> requests.Response:
    return requests.post(f"{url}/add-checkpoint", data=body, timeout=10)


def test_an_unknown_log_is_404_even_for_the_specification_s_own_request(served):
    _, url = served
    assert post(url, SPEC_REQUEST.encode()).status_code == 404


def test_a_checkpoint_no_trusted_key_signed_is_403(served):
    witness, url = served
    log = Log()
    trust(witness, log.vkey)
    assert post(url, SPEC_REQUEST.encode()).status_code == 403  # signed by keys it does not know
    log.grow(3)
    forged = log.note(key=Ed25519PrivateKey.generate())  # right name, wrong key: a different key ID
    assert post(url, log.body(0, note=forged)).status_code == 403


def test_the_witness_cosigns_a_consistent_extension_and_refuses_everything_else(served):
    witness, url = served
    log = Log()
    trust(witness, log.vkey)
    log.grow(5)
    first = post(url, log.body(0))
    assert first.status_code == 200
    assert first.text.startswith("\u2014 witness.example.com/w1 ") and first.text.endswith("\n")
    assert first.text.count("\n") == 1
    stamp = checkpoint.cosignature_timestamp(log.note().split("\n\n")[0] + "\n", first.text, witness.vkey)
    assert stamp is not None
    log.grow(6)
    # 409: the old size is not the one it cosigned; the body is its size, as text/x.tlog.size.
    conflict = post(url, log.body(3, log.proof(3)))
    assert (conflict.status_code, conflict.text, conflict.headers["Content-Type"]) == (409, "5\n", "text/x.tlog.size")
    # 422: a proof that does not verify (from the right size, but for other leaves).
    bad = list(log.proof(5))
    bad[0] = merkle.leaf_hash(b"not this")
    assert post(url, log.body(5, bad)).status_code == 422
    # 400: an old size larger than the checkpoint's, a proof for old size 0, malformed bodies.
    assert post(url, log.body(12, [], log.note())).status_code == 400
    assert post(url, b"old 05\n\n" + log.note().encode()).status_code == 400
    assert post(url, b"old 5\n" + log.note().encode()).status_code == 400
    assert post(url, b"old 5\nnot base64\n\n" + log.note().encode()).status_code == 400
    assert post(url, b"\xff\xfe").status_code == 400
    # 200: the consistent extension, with a proof from the size it cosigned.
    good = post(url, log.body(5, log.proof(5)))
    assert good.status_code == 200 and witness.store.read(ORIGIN).tree_size == 11
    # Equal sizes: the same root is cosigned again (a fresh time); another root is a 409.
    assert post(url, log.body(11)).status_code == 200
    other = Log()
    other.key, other.vkey = log.key, log.vkey
    other.leaves = list(log.leaves)
    other.leaves[2] = merkle.leaf_hash(b"rewritten")
    fork = post(url, other.body(11))
    assert (fork.status_code, fork.text, fork.headers["Content-Type"]) == (409, "11\n", "text/x.tlog.size")
    # A rewritten log cannot prove it extends what was cosigned.
    other.grow(2)
    assert post(url, other.body(11, other.proof(11))).status_code == 422
    assert witness.store.read(ORIGIN).tree_size == 11  # nothing refused ever moved it
    kept = [(r.status, r.old_size, r.tree_size) for r in witness.store.refusals()]
    assert (422, 11, 13) in kept and (409, 11, 11) in kept and (422, 5, 11) in kept and (409, 3, 11) in kept


def test_a_first_checkpoint_with_a_proof_is_refused_and_only_post_reaches_add_checkpoint(served):
    witness, url = served
    log = Log()
    trust(witness, log.vkey)
    log.grow(4)
    assert post(url, log.body(0, log.proof(2, 4))).status_code == 400  # the proof MUST be empty from 0
    assert requests.get(f"{url}/add-checkpoint", timeout=10).status_code == 405
    assert requests.get(f"{url}/checkpoint", params={"origin": ORIGIN}, timeout=10).status_code == 404
    assert post(url, log.body(0)).status_code == 200
    latest = requests.get(f"{url}/checkpoint", params={"origin": ORIGIN}, timeout=10)
    assert latest.status_code == 200
    assert checkpoint.verify_note(latest.text, log.vkey) == (ORIGIN, 4, log.root())
    assert checkpoint.cosigners(latest.text, [witness.vkey]).valid.keys() == {witness.name}


def test_two_submissions_at_once_never_roll_the_witness_back(served):
    """The specification's race: check and store are one transaction, so of a small and a large
    checkpoint sent together the stored size ends at the large one whatever the order."""
    witness, url = served
    log = Log()
    trust(witness, log.vkey)
    log.grow(2)
    assert post(url, log.body(0)).status_code == 200
    small, large = log.body(2), None
    log.grow(30)
    large = log.body(2, log.proof(2))
    answers = {}
    threads = [threading.Thread(target=lambda k, b: answers.__setitem__(k, post(url, b).status_code), args=(k, b))
               for k, b in (("small", small), ("large", large))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers["large"] == 200 and witness.store.read(ORIGIN).tree_size == 32


def test_the_command_line_makes_a_witness_trusts_a_log_and_reports_its_refusals(tmp_path, capsys):
    directory = tmp_path / "council"
    assert main(["init", "--dir", str(directory), "--name", "council.example.test/witness"]) == 0
    vkey = capsys.readouterr().out.strip()
    assert vkey.startswith("council.example.test/witness+")
    assert (directory / "witness-key.pem").stat().st_mode & 0o077 == 0  # the key is the owner's alone
    assert main(["init", "--dir", str(directory), "--name", "council.example.test/witness"]) == 0
    assert capsys.readouterr().out.strip() == vkey  # idempotent: the same key
    log = Log()
    assert main(["trust", "--dir", str(directory), log.vkey]) == 0
    assert main(["trust", "--dir", str(directory), "not a key"]) == 2
    assert main(["status", "--dir", str(directory)]) == 0
    assert f"log {ORIGIN}: nothing cosigned yet" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["vkey", "--dir", str(tmp_path / "nowhere")])
