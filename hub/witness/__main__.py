"""`python -m hub.witness`: a partner's witness for the hub's audit log.

    python -m hub.witness init --dir DIR --name police.example.test/witness   # key and storage, once
    python -m hub.witness vkey --dir DIR                 # the verifier key to give the hub's operator
    python -m hub.witness trust --dir DIR LOG_VKEY       # trust a log (its signed-note verifier key)
    python -m hub.witness serve --dir DIR --port 5101 [--log LOG_VKEY ...]
    python -m hub.witness status --dir DIR               # what it cosigned, and what it refused

DIR holds `witness-key.pem` (Ed25519, mode 0600), `witness.json` (the name) and
`witness.sqlite3`. Serve it behind a TLS-terminating proxy; it needs no database of the hub's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from werkzeug.serving import make_server

from hub.audit import checkpoint
from hub.witness.app import make_app
from hub.witness.core import Witness
from hub.witness.store import Store

KEY_FILE, CONFIG_FILE, STORE_FILE = "witness-key.pem", "witness.json", "witness.sqlite3"


def init(directory: Path, name: str) -> Witness:
    """Create the key, the name and the storage if they are not there yet (idempotent)."""
    directory.mkdir(parents=True, exist_ok=True)
    key_path, config_path = directory / KEY_FILE, directory / CONFIG_FILE
    if not key_path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        key_path.touch(mode=0o600)
        key_path.write_bytes(pem)
    if not config_path.exists():
        checkpoint.verifier_key(name, Ed25519PrivateKey.generate().public_key())  # refuse a bad name early
        config_path.write_text(json.dumps({"name": name}) + "\n")
    return load(directory)


def load(directory: Path) -> Witness:
    try:
        name = json.loads((directory / CONFIG_FILE).read_text())["name"]
        key = serialization.load_pem_private_key((directory / KEY_FILE).read_bytes(), None)
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"{directory} is not a witness directory ({exc}); "
                         "run `python -m hub.witness init` first") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SystemExit(f"{directory / KEY_FILE} is not an Ed25519 key")
    return Witness(name, key, Store(directory / STORE_FILE))


def trust(witness: Witness, vkey: str) -> str:
    origin, _ = checkpoint.parse_verifier_key(vkey)
    witness.store.trust(origin, vkey)
    return origin


def _time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def status(witness: Witness) -> str:
    lines = [f"Witness {witness.name}", f"  verifier key: {witness.vkey}"]
    for origin, cosigned in witness.store.logs():
        state = (f"cosigned {cosigned.tree_size} entries at {_time(cosigned.cosigned_at)}" if cosigned
                 else "nothing cosigned yet")
        lines.append(f"  log {origin}: {state}")
    refusals = witness.store.refusals()
    lines.append(f"  refusals (latest {len(refusals)}):" if refusals else "  no refusals")
    lines += [f"    {_time(r.at)} {r.origin}: {r.status} {r.reason} (old {r.old_size}, new {r.tree_size})"
              for r in refusals]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.witness", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for command in ("init", "vkey", "trust", "serve", "status"):
        sub = commands.add_parser(command)
        sub.add_argument("--dir", required=True, type=Path, help="the witness's key and storage")
        if command == "init":
            sub.add_argument("--name", required=True, help="the witness's name, e.g. police.example.test/witness")
        if command == "trust":
            sub.add_argument("log_vkey", help="the log's verifier key (name+hash+key)")
        if command == "serve":
            sub.add_argument("--host", default="127.0.0.1")
            sub.add_argument("--port", type=int, default=5101)
            sub.add_argument("--log", action="append", default=[], help="trust this log's verifier key too")
    args = parser.parse_args(argv)
    witness = init(args.dir, args.name) if args.command == "init" else load(args.dir)
    try:
        if args.command in ("init", "vkey"):
            print(witness.vkey)
        elif args.command == "trust":
            print(f"Trusting log {trust(witness, args.log_vkey)}")
        elif args.command == "status":
            print(status(witness))
        else:
            for vkey in args.log:
                trust(witness, vkey)
            server = make_server(args.host, args.port, make_app(witness), threaded=True)
            print(f"Witness {witness.name} on http://{args.host}:{server.port} ({witness.vkey})", flush=True)
            server.serve_forever()
    except ValueError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
