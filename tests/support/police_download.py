"""A police force's daily download as the import tests build it: rows, a workbook like a force's
export, the upload page, and a world of a school whose three pupils each file finds by a different
key (a police id, an NHS number, a name and date of birth)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import func, select

from hub import db
from hub.db import utcnow
from hub.missing.imports import batches as import_batches
from hub.missing.imports.download import COLUMNS
from hub.models.auth import Organisation, User
from hub.models.missing import ImportReviewItem, MissingEpisode
from hub.models.people import Child, IdentifierKind
from hub.models.roles import OrgKind, Role
from tests.factories import csrf_token, enrol, make_child, make_org, make_user, valid_nhs_number

LONDON = ZoneInfo("Europe/London")


def local(moment: datetime) -> datetime:
    """A UTC moment as the naive London wall-clock time a police export holds (whole seconds)."""
    return moment.astimezone(LONDON).replace(tzinfo=None, microsecond=0)


def xlsx(rows: list[dict], headings: dict[str, str] | None = None) -> bytes:
    """A workbook like a force's export: row 1 the headings, then one row per dict (field -> value)."""
    workbook = Workbook()
    sheet = workbook.active
    columns = [c for c in COLUMNS if (headings or {}).get(c.field, c.heading)]
    sheet.append([(headings or {}).get(c.field, c.heading) for c in columns])
    for row in rows:
        sheet.append([row.get(c.field) for c in columns])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


#: One start for every row of the test run, so a file built twice is the same file.
START = local(utcnow() - timedelta(hours=5))


def row(reference: str, **values) -> dict:
    base = {"police_reference": reference, "reported_start": START,
            "classification": "Missing", "risk_grade": "Medium", "missing_from": "Home"}
    base.update(values)
    return base


@dataclass
class DownloadWorld:
    la_edu: Organisation
    school: Organisation
    police: Organisation
    by_police_id: Child
    nhs: str
    by_nhs: Child
    by_name: Child
    officer: User
    officer_secret: str
    dsl: User
    dsl_secret: str
    deputy: User
    admin: User
    admin_secret: str


def download_world() -> DownloadWorld:
    """Three pupils of one school, each found by a different key; the force's officer, the school's
    key adults and an administrator, each able to sign in."""
    la_edu = make_org(OrgKind.la_education)
    school = make_org(OrgKind.school, local_authority_id=la_edu.id)
    police = make_org(OrgKind.police)
    by_police_id = make_child("Ava", "Police", date(2011, 5, 1), identifiers={IdentifierKind.police_id: "NB-P-1001"})
    nhs = valid_nhs_number(4242)
    by_nhs = make_child("Ben", "Health", date(2012, 6, 2), identifiers={IdentifierKind.nhs_number: nhs})
    by_name = make_child("Cara", "Named", date(2013, 7, 3), identifiers={})
    for child in (by_police_id, by_nhs, by_name):
        enrol(child, school)
    officer, officer_secret = make_user(police, Role.police_officer)
    dsl, dsl_secret = make_user(school, Role.dsl)
    deputy, _ = make_user(school, Role.deputy_dsl)
    admin, admin_secret = make_user(make_org(OrgKind.mace_host), Role.hub_admin)
    return DownloadWorld(la_edu=la_edu, school=school, police=police, by_police_id=by_police_id, nhs=nhs,
                         by_nhs=by_nhs, by_name=by_name, officer=officer, officer_secret=officer_secret, dsl=dsl,
                         dsl_secret=dsl_secret, deputy=deputy, admin=admin, admin_secret=admin_secret)


def episodes() -> dict[str, MissingEpisode]:
    return {e.police_reference: e for e in db.session().scalars(select(MissingEpisode))}


def count(model, *where) -> int:
    return db.session().scalar(select(func.count()).select_from(model).where(*where))


def upload(client, data: bytes, filename: str = "download.xlsx"):
    page = client.get("/missing/import")
    return client.post("/missing/import", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def review_item_id() -> int:
    """A row waiting for review, from a new force (tests/test_audit_coverage.py walks its page)."""
    force = make_org(OrgKind.police)
    officer, _ = make_user(force, Role.police_officer)
    import_batches.import_file(officer, xlsx([row("COVERAGE/REVIEW", police_id="NB-P-UNKNOWN")]), "x.xlsx")
    return db.session().scalar(select(ImportReviewItem.id).where(ImportReviewItem.police_org_id == force.id))
