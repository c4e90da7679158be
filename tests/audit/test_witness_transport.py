"""How the hub reaches its witnesses (docs/security.md, V12.3.2, V12.3.3, V15.3.2): over TLS unless
the witness is on this machine's loopback, with the certificate checked, and never following a
redirect: a witness answers for itself at the URL the operator configured."""

from __future__ import annotations

import base64
import ssl
import threading
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from hub import db, outbound
from hub.audit import alarms, checkpoint, signing, witnessing
from hub.audit import keys as audit_keys
from hub.audit import tree_heads as audit_tree_heads
from hub.config import ConfigurationError
from hub.models.audit import Cosignature, WitnessState
from hub.witness.__main__ import init, trust
from hub.witness.app import make_app
from tests.support.audit_log import record_events
from tests.support.http import start_recording
from tests.support.witnesses import start_witness


def _vkey(tmp_path) -> str:
    return start_witness(tmp_path / "w", "w.example.test/witness").witness.vkey


def test_a_witness_url_must_be_https_unless_on_this_machines_loopback(app, tmp_path):
    vkey = _vkey(tmp_path)
    with pytest.raises(ConfigurationError, match="must be https://"):
        witnessing.parse(f"http://witness.police.example.test {vkey}", "1")
    with pytest.raises(ConfigurationError, match="must be https://"):
        witnessing.parse(f"http://10.0.0.7:5101 {vkey}", "1")
    for url in ("https://witness.police.example.test", "http://127.0.0.1:5101", "http://localhost:5101",
                "http://[::1]:5101"):
        assert witnessing.parse(f"{url} {vkey}", "1").witnesses[0].url == url


def _serve(wsgi, ssl_context=None):
    server = make_server("127.0.0.1", 0, wsgi, threaded=True, ssl_context=ssl_context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_hub_follows_no_redirect_from_a_witness(app, tmp_path):
    real = start_witness(tmp_path / "real", "real.example.test/witness")
    hits = []

    def redirector(environ, start_response):
        hits.append(environ["PATH_INFO"])
        return Response(status=307, headers={"Location": f"{real.url}{environ['PATH_INFO']}?"
                                                         f"{environ.get('QUERY_STRING', '')}"})(environ, start_response)

    server = _serve(redirector)
    try:
        witness = witnessing.Witness(real.witness.name, f"http://127.0.0.1:{server.port}", real.witness.vkey)
        asked = witnessing._get(witness, "hub.example.test/audit", 5)
        submitted = witnessing._post(witness, "old 0\n", 5)
        assert (asked.status, submitted.status) == (307, 307)  # the redirect itself, not the other server's answer
        assert hits == ["/checkpoint", "/add-checkpoint"]
    finally:
        server.shutdown()
        real.stop()


def _self_signed(tmp_path) -> tuple[str, str]:
    key = generate_private_key(SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_a_witness_whose_certificate_the_hub_does_not_trust_is_not_reached(app, tmp_path):
    """A witness behind a certificate no trusted authority issued (an impostor on the path) gets
    no checkpoint: the TLS handshake fails before any request is sent."""
    real = start_witness(tmp_path / "real", "real.example.test/witness")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    hits = []

    def impostor(environ, start_response):
        hits.append(environ["PATH_INFO"])
        return Response("", status=200)(environ, start_response)

    server = _serve(impostor, context)
    try:
        witness = witnessing.Witness(real.witness.name, f"https://127.0.0.1:{server.port}", real.witness.vkey)
        reply = witnessing._get(witness, "hub.example.test/audit", 5)
        assert reply.status is None and reply.text == "SSLError"
        assert hits == []
    finally:
        server.shutdown()
        real.stop()


def test_a_witness_whose_host_the_operator_took_off_the_list_is_neither_asked_nor_sent_a_checkpoint(app, tmp_path):
    """The start-up check (a witness not in HUB_OUTBOUND_HOSTS stops the hub) is backed by the check
    on every request: the call is refused before anything is sent, as an unreachable witness."""
    server = start_recording()
    try:
        app.extensions["hub_outbound"] = outbound.parse("witness.police.example.test")
        witness = witnessing.Witness("w.example.test/witness", server.url, _vkey(tmp_path))
        asked = witnessing._get(witness, "hub.example.test/audit", 5)
        submitted = witnessing._post(witness, "old 0\n", 5)
        assert [(r.status, r.text) for r in (asked, submitted)] == [(None, "OutboundRefused")] * 2
        assert server.hits == []
    finally:
        server.stop()


def _forged_signature(line: str) -> str:
    name, blob = checkpoint.parse_signature_line(line.removesuffix("\n"))
    return f"{checkpoint.SIGNATURE_PREFIX}{name} {base64.b64encode(blob[:-1] + bytes([blob[-1] ^ 1])).decode()}\n"


def _another_witness(line: str) -> str:
    name, blob = checkpoint.parse_signature_line(line.removesuffix("\n"))
    return f"{checkpoint.SIGNATURE_PREFIX}other.example.test/witness {base64.b64encode(blob).decode()}\n"


@pytest.mark.parametrize(("change", "refusal"), [
    (_forged_signature, "200 with a cosignature that does not verify (the cosignature of {name} does not verify)"),
    (_another_witness, "200 without a cosignature by its key")])
def test_a_200_without_a_valid_cosignature_by_the_witness_s_own_key_is_a_refusal_and_nothing_is_stored(
        app, tmp_path, change, refusal):
    """A reply altered on the way (or a witness answering with another key): the hub keeps only a
    cosignature that verifies under the key the operator configured for that witness."""
    real = init(tmp_path / "w", "w.example.test/witness")
    trust(real, audit_keys.log_verifier_key(signing.origin()))
    inner = make_app(real)

    def altering(environ, start_response):
        response = Response.from_app(inner, environ)
        if environ["PATH_INFO"] == "/add-checkpoint" and response.status_code == 200:
            response.set_data("".join(change(line) for line in response.get_data(as_text=True).splitlines(True)))
        return response(environ, start_response)

    server = _serve(altering)
    try:
        app.extensions["hub_witnessing"] = witnessing.parse(f"http://127.0.0.1:{server.port} {real.vkey}", "1", "5",
                                                            signing.origin())
        record_events(2)
        head = audit_tree_heads.sign_tree_head()
        result = signing.publish(head)
        assert result.refused == {real.name: refusal.format(name=real.name)} and not result.cosigned
        assert not db.session().scalars(select(Cosignature)).all() and not signing.is_published(head)
        assert db.session().get(WitnessState, real.name).last_outcome == "refused"
        assert alarms.is_open("witness-refused", real.name) and alarms.is_open("not-published")
    finally:
        server.shutdown()
