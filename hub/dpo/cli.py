"""`flask --app hub audit ...`: verify, integrate, export, sign tree heads, save a tree head."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from hub import db
from hub.audit import checkpoint, signing
from hub.audit import integrator as audit_integrator
from hub.audit import keys as audit_keys
from hub.audit import tree_heads as audit_tree_heads
from hub.audit.context import cli_origin
from hub.audit.export import tree_head_json
from hub.audit.verification import SavedHead
from hub.dpo import exports as dpo_exports
from hub.dpo import integrity as dpo_integrity
from hub.errors import Invalid


# The complexity counted is the sum of the commands defined inside (each simple), not of register.
def register(app: Flask) -> None:  # noqa: C901 - see above
    group = AppGroup("audit", help="The audit log: verify, integrate, export, sign tree heads.")

    @group.command("verify")
    @click.option("--against", "against", type=click.Path(exists=True, dir_okay=False),
                  help="A tree head saved earlier (tree-head JSON or an export file).")
    @click.option("--fast", is_flag=True, help="Check hashes, tree and signatures only, not each event's fields.")
    @click.option("--incremental", is_flag=True,
                  help="Check only what was added since the last verified tree (a consistency proof and the "
                       "new entries); a full check when there is none.")
    def audit_verify(against, fast, incremental):
        """Recompute the tree from every event (or from the last check) and check the signed tree heads."""
        cli_origin()
        saved = _read_saved_head(against) if against else None
        result = dpo_integrity.run_verification("incremental" if incremental else "full", against=saved, fast=fast)
        for problem in result.problems:
            click.echo(f"FAIL: {problem}", err=True)
        for alarm in result.alarms:
            click.echo(f"ALARM: {alarm}", err=True)
        if result.ok:
            click.echo(f"OK: {result.tree_size} entries ({result.tree_size - result.start} checked, {result.kind}), "
                       f"{result.heads_checked} signed tree heads verified, consistent with "
                       f"{result.anchors_checked} earlier trees (signed, verified or cosigned).")
        else:
            first = result.first_bad_entry
            click.echo(f"The audit log does NOT verify: {result.problems[0]}"
                       + (f" (first bad entry {first})" if first is not None else ""), err=True)
        if not result.appendable:
            click.echo("This check is not in the audit log: the log cannot be extended until it is restored.",
                       err=True)
        if not result.ok or result.alarms:
            raise SystemExit(1)

    @group.command("integrate")
    def audit_integrate():
        """Sequence every committed entry now (the delivery worker does this every cycle)."""
        sequenced = audit_integrator.integrate_all()
        click.echo(f"Sequenced {sequenced} entries; the log holds {audit_tree_heads.tree_size()}.")

    @group.command("export")
    @click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
    @click.option("--child", "child_id", type=int)
    @click.option("--from", "date_from", type=click.DateTime(formats=["%Y-%m-%d"]))
    @click.option("--to", "date_to", type=click.DateTime(formats=["%Y-%m-%d"]))
    @click.option("--prove-from", type=click.IntRange(min=1),
                  help="Add a consistency proof from this size (a checkpoint saved earlier), for `verify --against`.")
    def audit_export(out, child_id, date_from, date_to, prove_from):
        """Write a signed JSON export that `python -m hub.audit.verify FILE` checks offline."""
        cli_origin()
        try:
            data = dpo_exports.export_json(None, prove_from=prove_from, child_id=child_id,
                                   date_from=date_from and date_from.date(), date_to=date_to and date_to.date())
        except Invalid as exc:
            raise click.ClickException(next(iter(exc.errors.values()))) from exc
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
        click.echo(f"Wrote {len(data['entries'])} entries, tree size {data['tree_head']['tree_size']}, to {out}")

    @group.command("sign")
    @click.option("--every", type=int, default=0, help="Keep signing every N seconds (a scheduler).")
    def audit_sign(every):
        """Sequence what is committed and sign a tree head now (and, with --every, on a schedule)."""
        while True:
            try:
                head = signing.sign_and_publish()
            except audit_tree_heads.SigningRefused as refused:
                raise click.ClickException("the hub will not sign: " + "; ".join(refused.problems)) from refused
            published = "published" if signing.is_published(head) else "not cosigned by the quorum of witnesses"
            click.echo(f"Signed tree head: size {head.tree_size} at {head.timestamp} ({published})")
            db.session.remove()
            if not every:
                break
            time.sleep(every)

    @group.command("tree-head")
    @click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
    def audit_tree_head(out):
        """Save the latest signed tree head, for a later `audit verify --against`."""
        head = audit_tree_heads.latest_tree_head() or signing.sign_and_publish()
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(tree_head_json(head), handle, indent=1)
        click.echo(f"Saved tree head of size {head.tree_size} to {out}")

    @group.command("checkpoint")
    @click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
    def audit_checkpoint(out):
        """Save the latest checkpoint with its cosignatures, for `python -m hub.audit.verify --against`."""
        head = audit_tree_heads.latest_tree_head() or signing.sign_and_publish()
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(audit_tree_heads.checkpoint_note(signing.origin(), head))
        click.echo(f"Saved the checkpoint of {head.tree_size} entries to {out}")

    @group.command("retire-key")
    @click.option("--file", "path", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="The retired keys' file (HUB_AUDIT_RETIRED_KEYS), made if it does not exist.")
    def audit_retire_key(path: Path):
        """Retire the current signing key now: add its public half, with its period, to the file."""
        current = audit_keys.trusted_keys()[-1]
        retired = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        entry = checkpoint.trusted_keys_json([checkpoint.TrustedKey(
            current.public_key, current.valid_from, checkpoint.rfc3339_utc(datetime.now(UTC)))])[0]
        path.write_text(json.dumps([*retired, entry], indent=1), encoding="utf-8")
        click.echo(f"Retired key {entry['fingerprint']} from {entry['valid_until']}. Now stop every process, set "
                   f"HUB_AUDIT_SIGNING_KEY to a new key (`keys generate`) and HUB_AUDIT_RETIRED_KEYS={path}, start "
                   "them again and have each witness trust the new `audit verifier-key`.")

    @group.command("trusted-keys")
    @click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path))
    def audit_trusted_keys(out: Path):
        """Save every key the tree heads may carry, with its period, for `python -m hub.audit.verify
        --trusted-keys` (give it to an auditor by a channel other than the export)."""
        out.write_text(json.dumps(checkpoint.trusted_keys_json(audit_keys.trusted_keys()), indent=1), encoding="utf-8")
        click.echo(f"Saved {len(audit_keys.trusted_keys())} trusted keys to {out}")

    @group.command("verifier-key")
    def audit_verifier_key():
        """Print the log's signed-note verifier key, for a witness to trust (`python -m hub.witness trust`)."""
        click.echo(audit_keys.log_verifier_key(signing.origin()))

    app.cli.add_command(group)


def _read_saved_head(path: str) -> SavedHead:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        head = data.get("tree_head", data)
        return SavedHead(tree_size=int(head["tree_size"]), root_hash=base64.b64decode(head["root_hash"]),
                         timestamp=str(head["timestamp"]), signature=base64.b64decode(head["signature"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise click.ClickException(f"{path} is not a saved tree head: {exc}") from exc
