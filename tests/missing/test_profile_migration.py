"""Migration 0015 keeps what profiles said before they had the protocol's sections."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select, text

from hub import crypto, db
from hub.audit import integrator as audit_integrator
from hub.migrate import alembic_config
from hub.models.missing import PhilomenaProfile
from hub.models.roles import OrgKind
from tests.factories import make_child, make_org


def test_the_old_free_text_moves_into_the_new_sections(app):
    csc = make_org(OrgKind.childrens_social_care)
    child = make_child(responsible_authority_id=csc.id)
    audit_integrator.integrate_all()  # downgrading past 0016 needs every audit entry sequenced
    db.session.remove()
    command.downgrade(alembic_config(app), "0014")
    old = {"physical_description": "Tall", "photo_description": "School photo, on file",
           "friends_and_associates": "Sam", "addresses_and_places": "The park", "medical_needs": "Inhaler",
           "phone_and_social_media": "07700 900123, snap: n_o", "money_and_transport": "Bus pass, pocket money"}
    with app.extensions["hub_engine"].begin() as conn:
        conn.execute(text(f"INSERT INTO philomena_profile (child_id, held_by_org_id, updated_at, {', '.join(old)}) "
                          f"VALUES (:child, :org, CURRENT_TIMESTAMP, {', '.join(':' + k for k in old)})"),
                     {"child": child.id, "org": csc.id, **{k: crypto.encrypt(v) for k, v in old.items()}})
    command.upgrade(alembic_config(app), "head")
    profile = db.session().scalar(select(PhilomenaProfile))
    assert profile.physical_description == (
        "Tall\n\nAbout the photo (as described before photos were kept): School photo, on file")
    assert (profile.friends_and_associates, profile.addresses_and_places, profile.medical_needs) == (
        "Sam", "The park", "Inhaler")
    assert profile.phone_numbers == "07700 900123, snap: n_o" and profile.money == "Bus pass, pocket money"
    assert profile.held_by_org_id == csc.id and profile.photo is None and profile.clothing is None
    db.session.remove()
    # And back: the split sections join again, the keeper is recorded.
    with db.unit_of_work() as s:
        s.scalar(select(PhilomenaProfile)).social_media = "snap: n_o"
    audit_integrator.integrate_all()  # downgrading past 0016 needs every audit entry sequenced
    db.session.remove()
    command.downgrade(alembic_config(app), "0014")
    with app.extensions["hub_engine"].connect() as conn:
        row = conn.execute(text("SELECT held_by_org_id, phone_and_social_media FROM philomena_profile")).one()
    assert row[0] == csc.id and crypto.decrypt(row[1]) == "07700 900123, snap: n_o\n\nSocial media: snap: n_o"
    command.upgrade(alembic_config(app), "head")
