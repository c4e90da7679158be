"""Sample MACE objects for tests/test_audit_coverage.py, which opens every MACE page as the
group's chair: one of each thing a MACE URL can name. Each MACE page's URL argument gets its
sample value here."""

from __future__ import annotations

from datetime import date, timedelta

from hub import db
from hub.auth.models import User
from hub.mace.models import MaceGroup, MaceMember, MaceMembership, MemberRole
from hub.people.models import Child


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
    return samples
