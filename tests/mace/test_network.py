"""The network around a child, a place or a person: one and two steps away, drawn as an SVG and
listed as a table, with a fixed number of SQL statements whatever the size of the group."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select

from hub import db
from hub.errors import NotFound
from hub.mace.operations import network, subjects
from hub.models.audit import AuditEvent
from hub.models.mace import LocationKind, MaceAgendaChild, MaceLink, MaceLocation, MacePerson, PersonKind
from tests.factories import make_child, sign_in


def _hold(mace, *children) -> None:
    with db.unit_of_work() as s:
        s.add_all(MaceAgendaChild(group_id=mace.group.id, child_id=c.id) for c in children)


def _place(mace, name="Rec ground") -> MaceLocation:
    return subjects.add_location(mace.user("police"), mace.group.id, subjects.LocationDetails(name, "park"))


def _link(mace, **ends) -> None:
    subjects.add_link(mace.user("police"), mace.group.id, subjects.LinkDetails("Patrol", date.today(), **ends))


@pytest.fixture
def two_children_one_place(mace):
    first, second = mace.children[0], mace.children[1]
    _hold(mace, first, second)
    place = _place(mace)
    _link(mace, child_id=first.id, location_id=place.id)
    _link(mace, child_id=second.id, location_id=place.id)
    return first, second, place


def test_two_children_linked_through_one_place_are_two_steps_apart(mace, two_children_one_place):
    first, second, place = two_children_one_place
    page = network.network(mace.user("nurse"), "child", first.id)
    steps = {(n.kind, n.subject_id): (n.steps, n.through) for n in page.nodes}
    assert steps == {("location", place.id): (1, []), ("child", second.id): (2, ["Rec ground"])}
    event_ = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "mace-network")).all()[-1]
    assert event_.actor_user_id == mace.user("nurse").id
    assert sorted(json.loads(event_.detail)["children"]) == sorted([first.id, second.id])


def test_the_page_draws_both_children_in_the_svg_and_the_table(app, mace, two_children_one_place):
    first, second, place = two_children_one_place
    client = app.test_client()
    sign_in(client, *mace.users["nurse"])
    html = client.get(f"/mace/network/child/{first.id}").get_data(as_text=True)
    svg = html[html.index("<svg"):html.index("</svg>")]
    table = html[html.index('data-testid="network-table"'):]
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg and "style=" not in svg
    for name in (first.full_name, second.full_name, "Rec ground"):
        assert name in svg
    assert second.full_name in table and "Rec ground" in table
    assert "<script" not in svg and "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_a_place_or_a_persons_network_comes_from_its_group(mace, two_children_one_place):
    first, second, place = two_children_one_place
    person = subjects.add_person(mace.user("police"), mace.group.id, subjects.PersonDetails(
        "person", "'Tiny'", "10+S1P18", "Seen with both", date.today() + timedelta(days=30)))
    _link(mace, person_id=person.id, location_id=place.id)
    by_place = {(n.kind, n.subject_id): n.steps for n in network.network(mace.user("dsl"), "location", place.id).nodes}
    assert by_place == {("child", first.id): 1, ("child", second.id): 1, ("person", person.id): 1}
    by_person = {(n.kind, n.subject_id): n.steps for n in network.network(mace.user("dsl"), "person", person.id).nodes}
    assert by_person == {("location", place.id): 1, ("child", first.id): 2, ("child", second.id): 2}
    subjects.remove_person(mace.user("police"), person.id)
    assert ("person", person.id) not in {(n.kind, n.subject_id) for n in
                                         network.network(mace.user("dsl"), "location", place.id).nodes}


@pytest.mark.parametrize("who", ["former", "outsider_dsl", "outsider_police"])
def test_a_non_member_or_former_member_gets_a_404_and_it_is_audited(mace, two_children_one_place, who):
    first, _, place = two_children_one_place
    user = mace.user(who)
    with pytest.raises(NotFound):
        network.network(user, "location", place.id)
    with pytest.raises(NotFound):
        network.network(user, "child", first.id)
    with pytest.raises(NotFound):
        network.network(user, "child", first.id, group_id=mace.group.id)
    refused = db.session().scalars(select(AuditEvent).where(AuditEvent.actor_user_id == user.id,
                                                            AuditEvent.outcome == "refused")).all()
    assert len(refused) == 3


def test_a_child_the_group_does_not_hold_has_no_network_page(mace):
    with pytest.raises(NotFound):
        network.network(mace.user("nurse"), "child", mace.children[2].id)


def _grow(mace, size: int) -> MaceLocation:
    """A group with `size` children, places and persons, all linked around one hub place."""
    hub_place = _place(mace, "Hub")
    chair = mace.user("chair")
    with db.unit_of_work() as s:
        for n in range(size):
            child = make_child(f"Net{n}", "Child", responsible_authority_id=mace.authority.id)
            s.add(MaceAgendaChild(group_id=mace.group.id, child_id=child.id))
            place = MaceLocation(group_id=mace.group.id, name=f"Place {n}", kind=LocationKind.shop,
                                 created_by_user_id=chair.id)
            person = MacePerson(group_id=mace.group.id, kind=PersonKind.person, name=f"P{n}", article_10="10+S1P18",
                                justification="j", review_on=date.today() + timedelta(days=30),
                                created_by_user_id=chair.id)
            s.add_all([place, person])
            s.flush()
            for ends in ({"child_id": child.id, "location_id": hub_place.id},
                         {"child_id": child.id, "location_id": place.id},
                         {"child_id": child.id, "person_id": person.id}):
                s.add(MaceLink(group_id=mace.group.id, source="s", seen_on=date.today(),
                               created_by_user_id=chair.id, **ends))
    return hub_place


def _statements(call) -> int:
    """SQL statements run by `call`, the audit log's own left out (its hash tree writes more nodes at
    some sizes of the log than at others, whatever the page)."""
    count = 0

    def before(_conn, _cursor, statement, *_args):
        nonlocal count
        count += "audit_" not in statement

    engine = db.session().get_bind()
    event.listen(engine, "before_cursor_execute", before)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return count


def test_the_network_takes_the_same_number_of_statements_for_a_small_and_a_bigger_group(mace):
    small_hub = _grow(mace, 2)
    big_hub = _grow(mace, 12)
    small = _statements(lambda: network.network(mace.user("nurse"), "location", small_hub.id))
    bigger = _statements(lambda: network.network(mace.user("nurse"), "location", big_hub.id))
    assert len(network.network(mace.user("nurse"), "location", small_hub.id).nodes) == 2 * 3
    assert len(network.network(mace.user("nurse"), "location", big_hub.id).nodes) == 12 * 3
    assert small == bigger
