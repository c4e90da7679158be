"""The hub's side of C2SP tlog-witness: which witnesses, asking them what they cosigned, and
submitting each new checkpoint with a consistency proof from the size each last cosigned.

Settings (HUB_ variables, read by hub.config):

    HUB_AUDIT_WITNESSES        comma-separated "<URL> <verifier key>" pairs, one per witness, e.g.
                               "http://127.0.0.1:5101 police.example.test/witness+1a2b3c4d+BL...="
                               (the URL is the witness's submission and monitoring prefix)
    HUB_AUDIT_WITNESS_QUORUM   how many must cosign a checkpoint for it to count as published
                               (default: a majority of those configured)
    HUB_AUDIT_WITNESS_TIMEOUT  seconds per request to a witness (default 10)

Each witness's host must be in HUB_OUTBOUND_HOSTS (hub.outbound), or the hub does not start; every
request to a witness goes through hub.outbound, which checks it again.

Network only here, no database: hub.audit.signing computes the proofs and records the outcomes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import requests
from flask import Flask

from hub import outbound
from hub.audit import checkpoint
from hub.audit.service import Anchor
from hub.config import ConfigurationError
from hub.extensions import app_state

SIZE_TYPE = "text/x.tlog.size"
#: The hosts a witness may be reached on over plain http (a demo's witnesses on the same machine).
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Witness:
    name: str
    url: str
    vkey: str


@dataclass(frozen=True)
class Witnessing:
    witnesses: tuple[Witness, ...] = ()
    quorum: int = 0
    timeout: float = 10.0
    #: The log's origin line (HUB_AUDIT_LOG_ORIGIN), also the hub's key name in its notes.
    origin: str = "hub.example.test/audit"


def parse(witnesses: str, quorum: str = "", timeout: str = "", origin: str = "hub.example.test/audit") -> Witnessing:
    found: list[Witness] = []
    for item in (witnesses or "").split(","):
        if not item.strip():
            continue
        parts = item.split()
        if len(parts) != 2 or not parts[0].startswith(("http://", "https://")):
            raise ConfigurationError("HUB_AUDIT_WITNESSES holds comma-separated '<URL> <verifier key>' pairs")
        url, vkey = parts
        if not _https_or_loopback(url):
            raise ConfigurationError(f"HUB_AUDIT_WITNESSES: {url} must be https:// (plain http only on this "
                                     "machine's loopback, as `make run` does)")
        try:
            name, _ = checkpoint.parse_verifier_key(vkey, checkpoint.COSIGNATURE_ALGORITHM)
        except ValueError as exc:
            raise ConfigurationError(f"HUB_AUDIT_WITNESSES: {vkey!r} is not a witness verifier key: {exc}") from exc
        if name in {w.name for w in found}:
            raise ConfigurationError(f"HUB_AUDIT_WITNESSES names the witness {name} twice")
        found.append(Witness(name, url.rstrip("/"), vkey))
    try:
        k = int(quorum) if (quorum or "").strip() else len(found) // 2 + 1 if found else 0
        seconds = float(timeout) if (timeout or "").strip() else 10.0
    except ValueError as exc:
        raise ConfigurationError("HUB_AUDIT_WITNESS_QUORUM and HUB_AUDIT_WITNESS_TIMEOUT must be numbers") from exc
    if found and not 1 <= k <= len(found):
        raise ConfigurationError(f"HUB_AUDIT_WITNESS_QUORUM must be 1 to {len(found)} (the witnesses configured)")
    if not found and k:
        raise ConfigurationError("HUB_AUDIT_WITNESS_QUORUM is set but HUB_AUDIT_WITNESSES names no witness")
    if not 0 < seconds <= 120:
        raise ConfigurationError("HUB_AUDIT_WITNESS_TIMEOUT must be 1 to 120 seconds")
    return Witnessing(tuple(found), k, seconds, origin)


def _https_or_loopback(url: str) -> bool:
    """A witness is reached over TLS (ASVS V12.3.3), except one on this machine's loopback."""
    parsed = urlsplit(url)
    return parsed.scheme == "https" or (parsed.scheme == "http" and parsed.hostname in LOOPBACK)


def init_app(app: Flask) -> None:
    """The HUB_AUDIT_WITNESS* settings of app.config["HUB"]; a wrong one stops start-up."""
    settings = app.config["HUB"]
    parsed = parse(settings.audit_witnesses, settings.audit_witness_quorum, settings.audit_witness_timeout,
                   settings.audit_log_origin)
    for witness in parsed.witnesses:
        if not app.extensions["hub_outbound"].permits_url(witness.url):
            raise ConfigurationError(f"HUB_AUDIT_WITNESSES: {urlsplit(witness.url).netloc} is not in "
                                     "HUB_OUTBOUND_HOSTS (list every witness's host there)")
    app.extensions["hub_witnessing"] = parsed


def settings() -> Witnessing:
    return app_state("hub_witnessing")


# --- asking -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reply:
    witness: Witness
    status: int | None  # None: no answer (unreachable, timed out)
    text: str
    content_type: str = ""


def _get(witness: Witness, origin: str, timeout: float) -> Reply:
    try:
        # Never a redirect (ASVS V15.3.2): a witness answers for itself, at the URL the operator set.
        with outbound.session() as http:
            response = http.get(f"{witness.url}/checkpoint?origin={quote(origin, safe='')}", timeout=timeout,
                                allow_redirects=False)
    except requests.RequestException as exc:
        return Reply(witness, None, type(exc).__name__)
    return Reply(witness, response.status_code, response.text, response.headers.get("Content-Type", ""))


def _post(witness: Witness, body: str, timeout: float) -> Reply:
    try:
        with outbound.session() as http:
            response = http.post(f"{witness.url}/add-checkpoint", data=body.encode("utf-8"), timeout=timeout,
                                 allow_redirects=False)
    except requests.RequestException as exc:
        return Reply(witness, None, type(exc).__name__)
    return Reply(witness, response.status_code, response.text, response.headers.get("Content-Type", ""))


def _all(call, items: list, timeout: float) -> list[Reply]:
    """One request per witness, all at once: the slowest witness, not their sum, sets the time."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(lambda item: call(*item, timeout), items))


@dataclass(frozen=True)
class Cosigned:
    """A witness's latest cosigned checkpoint for the log, both signatures checked."""

    witness: str
    size: int
    root: bytes
    timestamp: int


def latest_cosigned(origin: str, log_vkeys: list[str]) -> tuple[list[Cosigned], list[str]]:
    """What each witness last cosigned for this log (its monitoring API), with the hub's own
    signature (by any key trusted for the log: one cosigned before a rotation carries the old one)
    and the witness's cosignature verified: the anchors no database edit can move. The
    second list says which witnesses could not be asked or answered with something unusable."""
    config = settings()
    found, problems = [], []
    for reply in _all(_get, [(w, origin) for w in config.witnesses], config.timeout):
        name = reply.witness.name
        if reply.status == 404:
            continue  # it has cosigned nothing for this log yet
        if reply.status != 200:
            problems.append(f"witness {name} could not be asked ({reply.status or reply.text})")
            continue
        try:
            _, size, root = checkpoint.verify_note_by_any(reply.text, log_vkeys)
            stamps = checkpoint.cosigners(reply.text, [reply.witness.vkey])
        except ValueError as exc:
            problems.append(f"witness {name} answered with a checkpoint that does not verify ({exc})")
            continue
        if name not in stamps.valid:
            problems.append(f"witness {name} answered with a checkpoint it has not cosigned")
            continue
        found.append(Cosigned(name, size, root, stamps.valid[name]))
    return found, problems


def anchors(cosigned: list[Cosigned]) -> list[Anchor]:
    return [Anchor(c.size, c.root, f"the checkpoint witness {c.witness} cosigned") for c in cosigned]


def request_body(old_size: int, proof: list[bytes], note: str) -> str:
    """The add-checkpoint body: `old N`, one base64 hash per line, a blank line, the note."""
    return "".join([f"old {old_size}\n", *(checkpoint.b64encode(h) + "\n" for h in proof), "\n", note])


def submit(requests_: list[tuple[Witness, str]]) -> list[Reply]:
    """POST each (witness, body) to its add-checkpoint, all at once."""
    return _all(_post, requests_, settings().timeout)


def conflict_size(reply: Reply) -> int | None:
    """The witness's own size from a 409 answer (text/x.tlog.size, "N\\n"), else None."""
    if reply.status != 409 or not reply.content_type.startswith(SIZE_TYPE):
        return None
    text = reply.text
    if not text.endswith("\n") or not text[:-1].isdigit() or (len(text) > 2 and text[0] == "0"):
        return None
    return int(text[:-1])


def checkpoint_size(body: str) -> int:
    return checkpoint.parse_checkpoint_body(body)[1]
