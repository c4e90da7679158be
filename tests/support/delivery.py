"""The delivery tests' child, whose every personal detail must stay out of e-mail, and episodes
about her and more pupils of her school (each a notification and an e-mail per key adult)."""

from __future__ import annotations

from datetime import date, timedelta

from hub.db import utcnow
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.models.missing import Classification, MissingEpisode, MissingFrom, RiskGrade
from hub.models.people import Child
from tests.factories import enrol, involve, make_child
from tests.support.world import World, build_world

NAME = ("Philippa", "Quenby")
BORN = date(2012, 3, 27)
REFERENCE = "MP/26/7731"
PERSONAL = [*NAME, REFERENCE, "7731", "2012-03-27", "27/03/2012", "27 March 2012", "27 Mar 2012"]


def delivery_world() -> World:
    """The usual world about Philippa, without the authority or the education contact: only the
    school's two key adults are told."""
    return build_world(*NAME, BORN, social_care=False, la_contact=False)


def record(w: World, child: Child | None = None, reference: str = REFERENCE) -> MissingEpisode:
    return missing.record_episode(w.officer, (child or w.child).id, missing_details.EpisodeDetails(
        police_reference=reference, reported_start=utcnow() - timedelta(hours=2),
        classification=Classification.missing, risk_grade=RiskGrade.high, missing_from=MissingFrom.home))


def more_children(w: World, count: int) -> None:
    """More pupils of the same school reported missing: two more e-mails each."""
    for i in range(count):
        child = make_child(f"Pupil{i}", "Other")
        enrol(child, w.school)
        involve(child, w.police)
        record(w, child, reference=f"MP/26/9{i:03d}")
