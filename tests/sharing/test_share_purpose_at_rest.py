"""A share's purpose is the sender's own words, so it is encrypted at rest like the summary
(issue 19 item 21): what the database holds is a Fernet token, every page, export and the
subject access pack still read the words, `keys rotate` re-encrypts it with every other
encrypted column, and migration 0019 encrypts the purposes already written (and back)."""

from __future__ import annotations

import io

from alembic import command
from cryptography.fernet import Fernet
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from hub import crypto, db
from hub.audit import integrator as audit_integrator
from hub.errors import Invalid
from hub.migrate import alembic_config
from hub.models.people import ChildDataKey
from hub.models.sharing import PURPOSE_MAX, ShareRecord
from hub.people import service as people
from hub.sharing import reading as share_reading
from hub.sharing import register as share_register
from hub.sharing import service
from hub.subject_access import service as subject_access
from tests.support.sharing import draft

PURPOSE = "To keep her away from the man at the takeaway on Station Road"


def _stored_purposes() -> list[str]:
    return list(db.session().execute(text("SELECT purpose FROM share_record ORDER BY id")).scalars())


def test_the_purpose_is_stored_as_a_token_and_read_back_as_the_words(world):
    share = service.create_share(world["worker"], draft(world, purpose=PURPOSE))
    [stored] = _stored_purposes()
    assert stored.startswith(("gAAAA", "ck1.")) and "takeaway" not in stored
    db.session.remove()
    assert share_reading.get_share(world["dsl"], share.id).purpose == PURPOSE


def test_the_register_export_and_the_subject_access_pack_still_show_the_purpose(world):
    service.create_share(world["worker"], draft(world, purpose=PURPOSE))
    sheet = load_workbook(io.BytesIO(
        share_register.register_xlsx(world["worker"], share_register.RegisterFilter()))).active
    header = [c.value for c in sheet[1]]
    assert [row[header.index("Purpose")] for row in sheet.iter_rows(min_row=2, values_only=True)] == [PURPOSE]
    shares, _more = share_register.register(world["worker"], share_register.RegisterFilter())
    assert [s.purpose for s in shares] == [PURPOSE]
    pack = subject_access.pack(world["hub_dpo"], world["child"].id)
    assert any(PURPOSE in map(str, row.values) for section in pack.sections for row in section.rows)


def test_a_purpose_longer_than_the_pages_take_is_refused_now_the_column_does_not_bound_it(world):
    try:
        service.create_share(world["worker"], draft(world, purpose="x" * (PURPOSE_MAX + 1)))
    except Invalid as refused:
        assert "purpose" in refused.errors
    else:
        raise AssertionError("an over-long purpose was stored")
    assert _stored_purposes() == []


def test_keys_rotate_re_encrypts_the_purpose_and_every_other_encrypted_column(app, world):
    share = service.create_share(world["worker"], draft(world, purpose=PURPOSE))
    settings = app.config["HUB"]
    old_key, new_key = settings.field_keys[0], Fernet.generate_key().decode()
    app.extensions["hub_crypto"] = crypto.Keyring.of([new_key, old_key], settings.blind_index_key)
    rotated = people.rotate_keys()
    app.extensions["hub_crypto"] = crypto.Keyring.of([new_key], settings.blind_index_key)  # the old key is gone now
    db.session.remove()
    assert share_reading.get_share(world["worker"], share.id).purpose == PURPOSE
    # Every encrypted value in the database opens with the new key alone (directly, or through the
    # child's data key that it now wraps).
    for _table, _key, column in people.encrypted_columns():
        for token in db.session().execute(select(column).where(column.is_not(None))).scalars():
            crypto.decrypt_any(token)
    # Every child's data key re-wrapped (the share's fields are under its child's key), and the rest.
    assert rotated > db.session().scalar(select(func.count()).select_from(ChildDataKey))


def test_migration_0019_encrypts_the_purposes_already_written_and_back(app, world):
    share = service.create_share(world["worker"], draft(world, purpose="placeholder"))
    audit_integrator.integrate_all()  # downgrading past 0016 needs every audit entry sequenced
    db.session.remove()
    command.downgrade(alembic_config(app), "0017")
    with app.extensions["hub_engine"].begin() as conn:
        conn.execute(text("UPDATE share_record SET purpose = :p WHERE id = :id"), {"p": PURPOSE, "id": share.id})
    command.upgrade(alembic_config(app), "head")
    [stored] = _stored_purposes()
    assert crypto.decrypt_any(stored) == PURPOSE
    assert db.session().get(ShareRecord, share.id).purpose == PURPOSE
    db.session.remove()
    command.downgrade(alembic_config(app), "0017")
    with app.extensions["hub_engine"].connect() as conn:
        assert conn.execute(text("SELECT purpose FROM share_record")).scalar() == PURPOSE
    command.upgrade(alembic_config(app), "head")
