"""Migration 0027 reclasses the retention rows of a force's shares, which were `police_record`
like its episodes (so a share and an episode with the same id collided), as `police_share`."""

from __future__ import annotations

from datetime import date

from alembic import command
from sqlalchemy import select, text

from hub import db
from hub.migrate import alembic_config
from hub.models.retention import RecordClass, RetentionRecord
from hub.models.roles import OrgKind, Role
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, SourceKind
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice
from tests.factories import involve, make_child, make_episode, make_org, make_user


def test_a_forces_share_rows_become_police_share_and_its_episodes_stay_police_record(app):
    force, la = make_org(OrgKind.police), make_org(OrgKind.childrens_social_care)
    child = make_child(responsible_authority_id=la.id)
    involve(child, force)
    (officer, _), (inspector, _) = make_user(force, Role.police_officer), make_user(force, Role.police_officer)
    episode = make_episode(officer, child, police_reference="MIG/1")
    shares = [sharing.create_share(officer, sharing.ShareDraft(
        child_id=child.id, category=Category.other, summary="s", content="c", purpose="p",
        recipient_org_ids=[la.id], source_kind=SourceKind.organisation, source_description="team",
        obtained_how=ObtainedHow.observation, obtained_on=date.today(),
        bases=BasisChoice(article_6="6(1)(e)", gateway="CA1989-s47"), consent_position=ConsentPosition.not_needed,
        no_consent_reason=NoConsentReason.legal_duty, rationale="r", authorised_by_user_id=inspector.id,
        family_told=False, family_not_told_reason="risk")).id for _ in range(2)]
    assert episode.id in shares  # the same id in both tables: the collision the old class made
    other = next(i for i in shares if i != episode.id)
    db.session.remove()
    command.downgrade(alembic_config(app), "0025_dposcope")
    with app.extensions["hub_engine"].connect() as conn:
        before = set(conn.execute(text("SELECT record_class, record_id FROM retention_record")).all())
    # As the first slice stored them: the share whose id no episode has was a police_record.
    assert ("police_record", other) in before and ("police_record", episode.id) in before
    command.upgrade(alembic_config(app), "head")
    after = set(db.session().execute(select(RetentionRecord.record_class, RetentionRecord.record_id)).all())
    assert after == {(RecordClass.police_record, episode.id), (RecordClass.police_share, shares[0]),
                     (RecordClass.police_share, shares[1])}
