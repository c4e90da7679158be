"""Crypto-shredding and key rotation at county scale (issue 23).

A county of `--children` children (20,000 by default), each with an NHS number, a local authority
id, the keyed name indexes (words, prefixes, sound-alikes) and one share about them (summary,
content, purpose, source, rationale, all under the child's own data key), with its recipient,
access rows and retention row. Then, each against a baseline in the same run:

- **key rotation** over every child: `keys rotate` (re-wrap each child's data key, re-encrypt the
  few fields under the field key) against re-encrypting every encrypted field of those tables the
  old way (each token decrypted and encrypted again under the new key, and written back; rolled
  back, so both start from the same database);
- **destruction** of half the children's records (10,000 by default) through
  `destroy_approved` (each share and its parts deleted, then the child crypto-shredded: data key
  emptied, search indexes, identifiers and the child's row deleted, a certificate written) against
  a plain DELETE of the same rows (rolled back first, then the real destruction).

SQLite in a temporary folder (`HUB_BENCH_DATABASE_URL=postgresql+psycopg://...` for PostgreSQL:
a database created and dropped). `--children 2000` for a quick look.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, date, datetime, timedelta

from cryptography.fernet import Fernet
from sqlalchemy import bindparam, delete, func, insert, select, update

from bench._databases import throwaway_postgres
from bench._util import scratch
from bench.audit_log import _app, _environment
from hub import crypto, db
from hub.admin import service as admin
from hub.audit import integrator as audit_integrator
from hub.crypto import blind_index, dob_index, normalise_identifier, scoped
from hub.models.child_keys import child_scoped_tables
from hub.models.people import Child, ChildDataKey, ChildIdentifier, ChildNameToken, Gender, IdentifierKind
from hub.models.retention import RecordClass, RetentionRecord, RetentionStatus
from hub.models.roles import OrgKind, Role
from hub.models.sharing import (
    Category,
    ConsentPosition,
    ObtainedHow,
    ShareAccess,
    ShareRecipient,
    ShareRecord,
    SourceKind,
)
from hub.people import search as name_search
from hub.people import service as people
from hub.people.holders import record_holders
from hub.retention import destruction, shredding

CHUNK = 1000
RULE = "social_care_record: to the 25th birthday"


def _nhs_numbers():
    """Distinct valid NHS numbers (the 999 test range, modulus 11 check digit)."""
    n = 0
    while True:
        digits = f"999{n:06d}"
        check = 11 - sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            yield digits + str(0 if check == 11 else check)
        n += 1


def _load(children: int) -> dict:
    la = admin.create_organisation(None, admin.OrganisationDetails("R-LA", "Bench LA", OrgKind.childrens_social_care,
                                                                   "901"))
    other = admin.create_organisation(None, admin.OrganisationDetails("R-LA2", "Bench LA 2",
                                                                      OrgKind.childrens_social_care, "902"))
    worker = admin.create_user(None, admin.UserDetails("sw@bench.example.test", "Bench SW", la.id,
                                                       {Role.social_worker}, password="bench password 123"))
    dpo = admin.create_user(None, admin.UserDetails("dpo@bench.example.test", "Bench DPO", la.id, {Role.dpo},
                                                    password="bench password 123"))
    now = datetime.now(UTC)
    numbers = _nhs_numbers()
    for start in range(0, children, CHUNK):
        with db.unit_of_work() as s:
            made = []
            for n in range(start, min(start + CHUNK, children)):
                dob = date(2008, 1, 1) + timedelta(days=n % 5000)
                nhs = next(numbers)
                child = Child(given_name=f"Given{n}", family_name=f"Family{n}", date_of_birth_enc=dob.isoformat(),
                              dob_hash=dob_index(dob), gender=Gender.female, responsible_authority_id=la.id)
                child.identifiers = [
                    ChildIdentifier(kind=IdentifierKind.nhs_number, value=nhs,
                                    lookup_hash=blind_index("nhs_number", normalise_identifier(nhs))),
                    ChildIdentifier(kind=IdentifierKind.la_id, value=f"LA{n:07d}",
                                    lookup_hash=blind_index("la_id", f"LA{n:07d}"))]
                made.append(child)
            s.add_all(made)
            s.flush()  # each child's data key made with its row (hub.models.child_keys)
            s.execute(insert(ChildNameToken), [{"child_id": c.id, "token_hash": h} for c in made
                                               for h in name_search.index_hashes(c.given_name, c.family_name)])
            # One share about each child, its fields scoped to the child's key as create_share leaves them.
            rows = [dict(child_id=c.id, sender_org_id=la.id, sender_user_id=worker.id, shared=True,
                         category=Category.other, **{name: scoped(f"{name} about {c.given_name} {c.family_name}",
                                                                  c.data_key_id)
                                                     for name in ("summary", "content", "purpose",
                                                                  "source_description", "rationale")},
                         special_category=False, criminal_offence=False, law_enforcement=False, article_6="6(1)(e)",
                         gateway="CA1989-s47", source_kind=SourceKind.organisation,
                         obtained_how=ObtainedHow.observation, obtained_on=date(2025, 1, 1),
                         consent_position=ConsentPosition.not_needed, created_at=now)
                    for c in made]
            s.execute(insert(ShareRecord), rows)
            shares = s.execute(select(ShareRecord.id, ShareRecord.child_id).where(
                ShareRecord.child_id.in_([c.id for c in made]))).all()
            s.execute(insert(ShareRecipient), [{"share_id": sid, "organisation_id": other.id, "status": "sent"}
                                               for sid, _ in shares])
            s.execute(insert(ShareAccess), [{"share_id": sid, "organisation_id": org, "created_at": now}
                                            for sid, _ in shares for org in (la.id, other.id)])
            record_holders(s, [(cid, org) for _, cid in shares for org in (la.id, other.id)])
            s.execute(insert(RetentionRecord), [dict(
                record_class=RecordClass.social_care_record, record_id=sid, owning_org_id=la.id, child_id=cid,
                written_on=date(2025, 1, 1), rule=RULE, review_on=date(2025, 1, 2), status=RetentionStatus.scheduled)
                for sid, cid in shares])
        db.session.remove()  # the session's key cache is per session, as in the hub
    return {"la": la.id, "dpo": dpo.id}


def _child_scoped_tokens(s) -> list[tuple]:
    """(table, key, column, row key, token) of every encrypted field of the child-scoped tables, as
    stored (the tokens, not the values)."""
    wanted = child_scoped_tables()
    found = []
    for table, key, column in people.encrypted_columns():
        if table.name in wanted:
            found += [(table, key, column, k, t) for k, t in s.execute(select(key, column).where(column.is_not(None)))]
    return found


def _rotate_the_old_way(new: Fernet) -> tuple[float, int]:
    """Every encrypted field of the child-scoped tables decrypted and encrypted again under the new
    key and written back, as `keys rotate` did before envelope encryption (rolled back)."""
    s = db.session()
    started = time.perf_counter()
    tokens = _child_scoped_tokens(s)
    by_column: dict[tuple, list[dict]] = {}
    for table, key, column, row_key, token in tokens:
        fresh = new.encrypt(crypto.decrypt_any(token).encode()).decode("ascii")
        by_column.setdefault((table, key, column), []).append({"row_key": row_key, "token": fresh})
    for (table, key, column), values in by_column.items():
        s.execute(update(table).where(key == bindparam("row_key")).values({column.name: bindparam("token")}), values)
    elapsed = time.perf_counter() - started
    s.rollback()
    db.session.remove()
    return elapsed, len(tokens)


def _plain_delete(child_ids: list[int]) -> float:
    """The rows destruction deletes, by plain DELETEs in one transaction (rolled back)."""
    s = db.session()
    started = time.perf_counter()
    for start in range(0, len(child_ids), CHUNK):
        ids = child_ids[start:start + CHUNK]
        shares = select(ShareRecord.id).where(ShareRecord.child_id.in_(ids)).scalar_subquery()
        for model in (ShareAccess, ShareRecipient):
            s.execute(delete(model).where(model.share_id.in_(shares)))
        s.execute(delete(ShareRecord).where(ShareRecord.child_id.in_(ids)))
        for model in (ChildNameToken, ChildIdentifier):
            s.execute(delete(model).where(model.child_id.in_(ids)))
        s.execute(delete(Child).where(Child.id.in_(ids)))
    s.flush()
    elapsed = time.perf_counter() - started
    s.rollback()
    db.session.remove()
    return elapsed


def _run(children: int, destroy: int) -> dict:
    app = _app()
    app.app_context().push()
    started = time.perf_counter()
    ids = _load(children)
    print(f"(loaded {children:,} children, each with a share under its own key, in "
          f"{time.perf_counter() - started:.0f} s on {db.session().get_bind().dialect.name})", flush=True)
    results: dict = {"children": children, "destroyed": destroy}

    # Key rotation: a new field key first, the old one still there to read with.
    settings = app.config["HUB"]
    new_key = Fernet.generate_key()
    app.extensions["hub_crypto"] = crypto.Keyring.of([new_key.decode(), *settings.field_keys],
                                                     settings.blind_index_key)
    old_way, fields = _rotate_the_old_way(Fernet(new_key))
    started = time.perf_counter()
    count = people.rotate_keys()
    rewrap = time.perf_counter() - started
    results["rotation"] = {"rewrap_s": rewrap, "reencrypt_s": old_way, "fields": fields, "rotated": count}
    print(f"keys rotate over {children:,} children: {rewrap:.2f} s ({count:,} data keys and field-key fields) "
          f"against re-encrypting all {fields:,} of their fields the old way {old_way:.2f} s: "
          f"ratio {rewrap / old_way:.3f}", flush=True)
    app.extensions["hub_crypto"] = crypto.Keyring.of([new_key.decode()], settings.blind_index_key)
    db.session.remove()

    # Destruction of `destroy` children's records, all approved.
    chosen = list(db.session().scalars(select(Child.id).order_by(Child.id).limit(destroy)))
    with db.unit_of_work() as s:
        for start in range(0, len(chosen), CHUNK):
            s.execute(update(RetentionRecord).where(RetentionRecord.child_id.in_(chosen[start:start + CHUNK]))
                      .values(status=RetentionStatus.approved, decided_by_user_id=ids["dpo"],
                              decided_at=datetime.now(UTC)))
    db.session.remove()
    baseline = _plain_delete(chosen)
    shredding_alone = []
    shred = shredding.shred_children

    def timed(*args, **kwargs):  # the shredding step's own share of the destruction
        began = time.perf_counter()
        try:
            return shred(*args, **kwargs)
        finally:
            shredding_alone.append(time.perf_counter() - began)

    shredding.shred_children = timed
    started = time.perf_counter()
    try:
        certificates = destruction.destroy_approved()
    finally:
        shredding.shred_children = shred
    whole = time.perf_counter() - started
    db.session.remove()
    gone = db.session().scalar(select(func.count()).select_from(ChildDataKey).where(ChildDataKey.destroyed_at
                                                                                   .is_not(None)))
    left = db.session().scalar(select(func.count()).select_from(Child))
    assert gone == destroy and left == children - destroy, (gone, left)
    shred_s = sum(shredding_alone)
    results["destruction"] = {"whole_s": whole, "shred_s": shred_s, "delete_s": baseline,
                              "certificates": len(certificates)}
    print(f"destroying {destroy:,} children's records (`destroy_approved`: each share and its parts, then the "
          f"children's keys, indexes and rows; {len(certificates)} certificates): {whole:.2f} s "
          f"({destroy / whole:,.0f} children/s), of which crypto-shredding {shred_s:.2f} s; against a plain "
          f"DELETE of the same rows {baseline:.2f} s: ratio {whole / baseline:.1f} (shredding alone "
          f"{shred_s / baseline:.2f})", flush=True)
    started = time.perf_counter()
    audit_integrator.integrate_all()
    print(f"(audit entries integrated in {time.perf_counter() - started:.1f} s)", flush=True)
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--children", type=int, default=20_000, help="children in the county (half are destroyed)")
    args = parser.parse_args(argv)
    destroy = args.children // 2
    server_url = os.environ.get("HUB_BENCH_DATABASE_URL")
    with scratch("hub-bench-retention-") as folder:
        if server_url and server_url.startswith("postgresql"):
            with throwaway_postgres(server_url, "hub_bench_retention") as url:
                os.environ["HUB_BENCH_DATABASE_URL"] = url
                try:
                    _environment(folder)
                    return _run(args.children, destroy)
                finally:
                    os.environ["HUB_BENCH_DATABASE_URL"] = server_url
        _environment(folder)
        return _run(args.children, destroy)


if __name__ == "__main__":
    main()
