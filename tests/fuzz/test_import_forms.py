"""The police download's forms but the upload (tests/missing/ sends it good, wrong and hostile
files), fuzzed (tests/support/form_fuzz.py): a force's column headings, and a row waiting for
review matched to a child, made a new child, or dismissed."""

from __future__ import annotations

from sqlalchemy import select

from hub import db
from hub.missing.imports import batches as import_batches
from hub.models.missing import ImportReviewItem
from hub.models.people import IdentifierKind
from hub.models.roles import OrgKind, Role
from tests.factories import make_child, make_org, make_user, sign_in
from tests.support.form_fuzz import fuzz
from tests.support.police_download import row, xlsx


def test_a_forces_column_headings_form(app):
    force = make_org(OrgKind.police)
    admin = app.test_client()
    sign_in(admin, *make_user(make_org(OrgKind.mace_host), Role.hub_admin))
    assert fuzz(admin, f"/missing/import/mapping?force={force.id}") >= 10


def test_the_forms_of_a_row_waiting_for_review(app):
    force = make_org(OrgKind.police)
    officer, secret = make_user(force, Role.police_officer)
    import_batches.import_file(
        officer, xlsx([row(f"FUZZ/{n}", police_id=f"NB-P-UNKNOWN-{n}") for n in range(3)]), "x.xlsx"
    )
    make_child("Fuzz", "Candidate", identifiers={IdentifierKind.police_id: "NB-P-CANDIDATE"})
    items = db.session().scalars(select(ImportReviewItem.id).order_by(ImportReviewItem.id)).all()
    assert len(items) == 3
    client = app.test_client()
    sign_in(client, officer, secret)
    for item, form in zip(items, ("match", "create", "dismiss"), strict=True):
        page = f"/missing/import/review/{item}"
        # The match form is offered beside each child a search found.
        shown = f"{page}?identifier=NB-P-CANDIDATE" if form == "match" else page
        assert fuzz(client, shown, f"{page}/{form}") >= 1
