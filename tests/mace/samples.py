"""Sample MACE objects for tests/test_audit_coverage.py, which opens every MACE page as the
group's chair: one of each thing a MACE URL can name. Each MACE page's URL argument gets its
sample value here."""

from __future__ import annotations

from datetime import date, timedelta

from hub import db
from hub.db import utcnow
from hub.models.auth import User
from hub.models.mace import (
    LocationKind,
    MaceAction,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceGroup,
    MaceLink,
    MaceLocation,
    MaceMeeting,
    MaceMember,
    MaceMembership,
    MacePerson,
    MemberRole,
    PersonKind,
)
from hub.models.people import Child
from hub.models.sharing import Category, ObtainedHow, ShareAccess, ShareRecord, SourceKind


def mace_samples(chair: User, child: Child) -> dict[str, int]:
    """A group chaired by `chair`, holding `child`, with one of everything; the URL arguments."""
    with db.unit_of_work() as s:
        group = MaceGroup(code="MACE-COV", name="Coverage MACE", host_organisation_id=chair.organisation_id)
        s.add(group)
        s.flush()
        s.add(MaceMembership(group_id=group.id, organisation_id=chair.organisation_id))
        member = MaceMember(group_id=group.id, user_id=chair.id, organisation_id=chair.organisation_id,
                            role=MemberRole.chair, start_date=date.today() - timedelta(days=30))
        s.add(member)
        s.flush()
        samples = {"group_id": group.id, "member_id": member.id}
        # Meetings (hub/mace/operations/meetings.py, agenda.py): a meeting with the child on its agenda.
        meeting = MaceMeeting(group_id=group.id, scheduled_for=utcnow(), created_by_user_id=chair.id)
        s.add(meeting)
        s.add(MaceAgendaChild(group_id=group.id, child_id=child.id))
        s.flush()
        agenda_item = MaceAgendaItem(meeting_id=meeting.id, position=1, child_id=child.id, reason="sample",
                                     added_by_user_id=chair.id)
        s.add(agenda_item)
        s.flush()
        samples |= {"meeting_id": meeting.id, "agenda_item_id": agenda_item.id}
    # Actions (hub/mace/operations/actions.py): an action of the sample meeting, owned by the chair.
    with db.unit_of_work() as s:
        action = MaceAction(group_id=group.id, meeting_id=samples["meeting_id"], description="sample action",
                            owner_organisation_id=chair.organisation_id, owner_user_id=chair.id,
                            due_on=date.today(), created_by_user_id=chair.id)
        s.add(action)
        s.flush()
        samples["action_id"] = action.id
    # Subjects, intelligence and the network (hub/mace/operations/subjects.py, intelligence.py, network.py).
    with db.unit_of_work() as s:
        place = MaceLocation(group_id=group.id, name="Sample park", kind=LocationKind.park, created_by_user_id=chair.id)
        person = MacePerson(group_id=group.id, kind=PersonKind.person, name="Sample", article_10="10+S1P18",
                            justification="sample", review_on=date.today() + timedelta(days=30),
                            created_by_user_id=chair.id)
        intel = ShareRecord(mace_group_id=group.id, sender_org_id=chair.organisation_id, sender_user_id=chair.id,
                            category=Category.other, summary="sample", purpose="sample",
                            source_kind=SourceKind.organisation, source_description="sample",
                            obtained_how=ObtainedHow.observation, obtained_on=date.today())
        s.add_all([place, person, intel])
        s.flush()
        s.add(ShareAccess(organisation_id=chair.organisation_id, share_id=intel.id, created_at=intel.created_at))
        s.add(MaceLink(group_id=group.id, child_id=child.id, location_id=place.id, source="sample",
                       seen_on=date.today(), created_by_user_id=chair.id))
        samples |= {"location_id": place.id, "person_id": person.id, "intelligence_id": intel.id,
                    "subject_kind": "location", "subject_id": place.id}
    return samples
