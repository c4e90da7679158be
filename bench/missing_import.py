"""Police daily download import (issue 5): a 10,000-row download of children the hub holds
(matched by police id), imported: rows per second, as a ratio to openpyxl merely reading the same
file in read-only mode in the same run (goal at least 0.3). Also the same file imported again
(every row unchanged), and where the time goes (reading and checking the file vs applying rows).

Run: `make bench`, `.venv/bin/python -m bench missing_import` (10,000 rows), or for a quicker
look `.venv/bin/python -m bench.missing_import --rows 2000` (`python -m bench` passes no options).
Throw-away SQLite database in a temporary folder; `HUB_BENCH_DATABASE_URL=postgresql+psycopg://...`
for PostgreSQL (a database of its own: the benchmark fills it).
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook, load_workbook
from sqlalchemy import event, insert, select

from bench.audit_log import _app, _environment
from hub import db
from hub.admin import service as admin
from hub.crypto import blind_index, dob_index, normalise_identifier
from hub.missing.imports import batches as import_batches
from hub.missing.imports.download import COLUMNS, read_download
from hub.models.auth import User
from hub.models.people import Child, ChildIdentifier, Enrolment, Gender, IdentifierKind
from hub.models.roles import OrgKind, Role

NOW = datetime.now(UTC)
SCHOOLS = 50  # each with a DSL and a deputy: every new episode tells two key adults


def _setup(rows: int):
    folder = tempfile.mkdtemp()
    _environment(Path(folder))
    app = _app()
    la_edu = admin.create_organisation(None, admin.OrganisationDetails("B-EDU", "Bench LA education",
                                                                       OrgKind.la_education, "901"))
    police = admin.create_organisation(None, admin.OrganisationDetails("B-POL", "Bench police", OrgKind.police, "42"))
    officer = admin.create_user(None, admin.UserDetails("officer@bench.example.test", "Bench officer", police.id,
                                                        {Role.police_officer}, password="bench password 123"))
    schools = []
    for n in range(SCHOOLS):
        school = admin.create_organisation(None, admin.OrganisationDetails(
            f"B-SCH{n}", f"Bench school {n}", OrgKind.school, f"{990000 + n}", local_authority_id=la_edu.id))
        for role in (Role.dsl, Role.deputy_dsl):
            admin.create_user(None, admin.UserDetails(f"{role.value}{n}@bench.example.test", f"Key adult {n}",
                                                      school.id, {role}, password="bench password 123"))
        schools.append(school.id)
    _bulk_children(rows, schools)
    return app, officer


def _other_force(n: int):
    """Another force with its own officer: the same file imported for it is all new episodes
    again (references are unique per force), so the new-episode import can be timed more than once."""
    force = admin.create_organisation(None, admin.OrganisationDetails(f"B-POL{n}", f"Bench police {n}",
                                                                      OrgKind.police, f"{50 + n}"))
    return admin.create_user(None, admin.UserDetails(f"officer{n}@bench.example.test", f"Bench officer {n}",
                                                     force.id, {Role.police_officer}, password="bench password 123"))


def _bulk_children(count: int, schools: list[int]) -> None:
    """Children with a police id each, on a school's roll, loaded through SQLAlchemy Core (the
    encrypted columns and blind indexes as create_child writes them)."""
    born = date(2012, 3, 27)
    with db.unit_of_work() as s:
        s.execute(insert(Child), [dict(given_name=f"Child{i}", family_name="Bench", date_of_birth_enc=born.isoformat(),
                                       dob_hash=dob_index(born), gender=Gender.female, looked_after=False,
                                       is_demo=False) for i in range(count)])
        ids = list(s.scalars(select(Child.id).order_by(Child.id)))
        s.execute(insert(ChildIdentifier), [dict(
            child_id=cid, kind=IdentifierKind.police_id, value=f"BP-{i:06d}",
            lookup_hash=blind_index("police_id", normalise_identifier(f"BP-{i:06d}"))) for i, cid in enumerate(ids)])
        s.execute(insert(Enrolment), [dict(child_id=cid, school_id=schools[i % len(schools)],
                                           start_date=date(2024, 9, 1)) for i, cid in enumerate(ids)])


def _download(rows: int, later: bool = False) -> bytes:
    """The force's export: Excel date-times in London time, as police systems write them. The
    `later` file is the next day's: one row in ten has news (found, or a risk grade raised)."""
    london = ZoneInfo("Europe/London")
    now = NOW
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Download")
    sheet.append([c.heading for c in COLUMNS])
    grades = ["No apparent risk", "Low", "Medium", "High"]
    for i in range(rows):
        start = (now - timedelta(hours=2 + i % 500)).astimezone(london).replace(tzinfo=None, microsecond=0)
        found = start + timedelta(hours=1) if i % 3 == 0 else None
        grade = grades[i % 4]
        if later and i % 10 == 1:
            if found is None:
                found = start + timedelta(minutes=30)
            else:
                grade = "High"
        sheet.append([f"MP/26/{i:06d}", start, "Missing" if i % 5 else "Absent", grade, "Home",
                      found, "Returned home" if found else None, f"BP-{i:06d}", None, None, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _openpyxl_read(data: bytes) -> int:
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    count = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    return count - 1


def _best(fn, runs: int = 3) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return min(timings)


class _Statements:
    """Counts the SQL statements sent to the database (executemany batches count once each)."""

    def __init__(self) -> None:
        self.count = 0
        event.listen(db.session().get_bind(), "before_cursor_execute", self._seen)

    def _seen(self, *_args) -> None:
        self.count += 1

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3,
                        help="times the all-new import runs (each for another force); the best is compared "
                             "with the best of three openpyxl reads, like for like")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    _app, officer = _setup(args.rows)
    data = _download(args.rows)
    print(f"(loaded {args.rows:,} children and wrote a {len(data) / 1e6:.1f} MB download in "
          f"{time.perf_counter() - start:.0f} s)")
    assert _openpyxl_read(data) == args.rows
    baseline = _best(lambda: _openpyxl_read(data))
    reading = _best(lambda: read_download(data))
    actor = db.session().get(User, officer.id)
    statements = _Statements()
    t0 = time.perf_counter()
    first = import_batches.import_file(actor, data, "bench.xlsx")
    first_s = time.perf_counter() - t0
    first_sql = statements.take()
    summary = import_batches.summary_of(first)
    assert summary["created"] == args.rows, summary
    new_runs = [first_s]
    for n in range(2, args.repeats + 1):
        other = _other_force(n)
        t0 = time.perf_counter()
        repeat = import_batches.import_file(db.session().get(User, other.id), data, "bench.xlsx")
        new_runs.append(time.perf_counter() - t0)
        assert import_batches.summary_of(repeat)["created"] == args.rows
    statements.take()
    first_s = min(new_runs)
    t0 = time.perf_counter()
    again = import_batches.import_file(actor, data, "bench.xlsx")
    again_s = time.perf_counter() - t0
    again_sql = statements.take()
    assert import_batches.summary_of(again)["unchanged"] == args.rows, import_batches.summary_of(again)
    later = _download(args.rows, later=True)
    t0 = time.perf_counter()
    third = import_batches.import_file(actor, later, "bench-later.xlsx")
    later_s = time.perf_counter() - t0
    later_sql = statements.take()
    later_summary = import_batches.summary_of(third)
    assert later_summary["errors"] == 0 and later_summary["updated"] > 0, later_summary
    rates = {
        "openpyxl_read_rows_per_s": args.rows / baseline,
        "read_and_check_rows_per_s": args.rows / reading,
        "import_new_rows_per_s": args.rows / first_s,
        "import_again_rows_per_s": args.rows / again_s,
        "import_later_rows_per_s": args.rows / later_s,
    }
    print(f"openpyxl read-only, values only (baseline): {rates['openpyxl_read_rows_per_s']:,.0f} rows/s "
          f"({baseline:.2f} s)")
    print(f"hub: reading and checking the file (safety checks, parsing, validation): "
          f"{rates['read_and_check_rows_per_s']:,.0f} rows/s ({reading:.2f} s), "
          f"ratio {rates['read_and_check_rows_per_s'] / rates['openpyxl_read_rows_per_s']:.2f}")
    print(f"hub: import, every row a new episode (2 school notifications and e-mails each, audited): "
          f"{rates['import_new_rows_per_s']:,.0f} rows/s (best of {len(new_runs)}: "
          f"{', '.join(f'{t:.1f}' for t in new_runs)} s), "
          f"ratio {rates['import_new_rows_per_s'] / rates['openpyxl_read_rows_per_s']:.2f} (goal >= 0.3); "
          f"{first_sql:,} SQL statements")
    print(f"hub: the same file again, every row unchanged: {rates['import_again_rows_per_s']:,.0f} rows/s "
          f"({again_s:.1f} s), ratio {rates['import_again_rows_per_s'] / rates['openpyxl_read_rows_per_s']:.2f}; "
          f"{again_sql:,} SQL statements")
    print(f"hub: the next day's file, {later_summary['updated']:,} rows with news (found or risk raised, the "
          f"school told), the rest unchanged: {rates['import_later_rows_per_s']:,.0f} rows/s ({later_s:.1f} s), "
          f"ratio {rates['import_later_rows_per_s'] / rates['openpyxl_read_rows_per_s']:.2f}; "
          f"{later_sql:,} SQL statements")
    rates["ratio_later"] = rates["import_later_rows_per_s"] / rates["openpyxl_read_rows_per_s"]
    rates["ratio_new"] = rates["import_new_rows_per_s"] / rates["openpyxl_read_rows_per_s"]
    rates["ratio_again"] = rates["import_again_rows_per_s"] / rates["openpyxl_read_rows_per_s"]
    return rates


if __name__ == "__main__":
    main()
