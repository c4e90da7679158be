"""Lists equal details, on random worlds: whatever relationships come and go, every list, search,
export and count of a kind shows a user exactly the objects whose detail page that user may open.

Hypothesis draws a few changes to the rich world (tests/access/world.py) each example, through the
services where the hub has one: MACE memberships that start and end, enrolments that start and
end, an agency's involvement that opens and closes, a recipient revoked, intelligence shared into the
group with one child or about a place only; then a random user. For that user every list is read
over HTTP and compared with the detail page of every object of its kind:

| kind          | lists, searches, exports, counts                                         | detail page           |
|---------------|--------------------------------------------------------------------------|-----------------------|
| child         | /children; a search by each child's name, one drawn by her full name,     | /children/<id>        |
|               | date of birth and NHS number                                             |                       |
| share         | /sharing/register and its spreadsheet, /sharing; for MACE intelligence   | /sharing/<id>         |
|               | the groups' intelligence lists too (what the organisation never received) |                       |
| episode       | /missing                                                                 | /missing/<id>         |
| MACE group    | /mace                                                                    | /mace/groups/<id>     |
| intelligence  | /mace/groups/<id>/intelligence                                           | /mace/intelligence/<id> |
| notification  | /notifications (the copies addressed to the user)                        | /notifications/<id>   |

The world changes from example to example (it is one world per module, to keep the suite fast),
so each example starts where the last left off: a longer history, not a fresh one.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from hub import db
from hub.db import unit_of_work
from hub.errors import Invalid, NotFound
from hub.mace import service as mace
from hub.mace.operations import intelligence
from hub.models.mace import MaceMember, MemberRole
from hub.models.missing import MissingEpisode
from hub.models.notifications import Notification
from hub.models.people import AgencyInvolvement, Child, Enrolment
from hub.models.sharing import ShareRecipient, ShareRecord
from hub.people import service as people
from hub.sharing import recipients as share_recipients
from tests.access.world import CHILDREN, RichWorld
from tests.permissions.world import _draft

USERS = ["dsl_a", "deputy_a", "dsl_b", "dsl_c", "edu", "sw_h", "sw_p", "off1", "off2", "nurse", "nurse2", "glass",
         "dpo_a", "dpo_f1", "dpo_h", "hub_dpo", "admin", "analyst", "chair", "member", "former", "mace_only",
         "mace_unnamed", "chair2", "nurse_member"]
SCHOOLS = ["school_a", "school_b", "school_c"]
AGENCIES = ["nhs", "f1", "f2", "la_h", "la_p"]
TODAY = date.today()

step = st.one_of(
    st.tuples(st.just("name"), st.sampled_from(USERS)),
    st.tuples(st.just("end-membership"), st.sampled_from(USERS)),
    st.tuples(st.just("enrol"), st.sampled_from(list(CHILDREN)), st.sampled_from(SCHOOLS)),
    st.tuples(st.just("end-enrolment"), st.sampled_from(list(CHILDREN))),
    st.tuples(st.just("involve"), st.sampled_from(list(CHILDREN)), st.sampled_from(AGENCIES)),
    st.tuples(st.just("end-involvement"), st.sampled_from(list(CHILDREN))),
    st.tuples(st.just("intelligence"), st.sampled_from(USERS), st.one_of(st.none(), st.sampled_from(list(CHILDREN)))),
    st.tuples(st.just("revoke"), st.sampled_from(["sent"])),
)


def apply(world: RichWorld, change: tuple) -> None:
    """One change to the world, through the service that makes it in the hub (or, for the records
    other systems keep, as they would write them). A change the hub refuses (a member named twice,
    intelligence by a non-member) is a change that does not happen."""
    kind, *args = change
    admin = world.user("admin")
    c = world.children
    try:
        if kind == "name":
            mace.add_member(admin, world.group.id, mace.MemberDetails(world.users[args[0]].id, MemberRole.member,
                                                                     TODAY))
        elif kind == "end-membership":
            for member in db.session().scalars(select(MaceMember).where(
                    MaceMember.user_id == world.users[args[0]].id, MaceMember.end_date.is_(None))):
                mace.end_membership(admin, member.id, max(TODAY, member.start_date))
        elif kind == "enrol":
            people.add_enrolment(admin, c[args[0]].id, world.orgs[args[1]].id, TODAY - timedelta(days=1))
        elif kind == "end-enrolment":
            for enrolment in db.session().scalars(select(Enrolment).where(
                    Enrolment.child_id == c[args[0]].id, Enrolment.end_date.is_(None))):
                people.end_enrolment(admin, enrolment.id, TODAY - timedelta(days=1))
        elif kind == "involve":
            with unit_of_work() as s:
                s.add(AgencyInvolvement(child_id=c[args[0]].id, organisation_id=world.orgs[args[1]].id,
                                        reason="referral", started_on=TODAY - timedelta(days=1)))
        elif kind == "end-involvement":
            with unit_of_work() as s:
                for row in s.scalars(select(AgencyInvolvement).where(AgencyInvolvement.child_id == c[args[0]].id,
                                                                     AgencyInvolvement.ended_on.is_(None))):
                    row.ended_on = TODAY - timedelta(days=1)
        elif kind == "intelligence":
            sharer, child = world.user(args[0]), args[1]
            subjects = (intelligence.Subjects(child_ids=[c[child].id]) if child
                        else intelligence.Subjects(location_ids=[world.mace["location"].id]))
            intelligence.share_intelligence(sharer, world.group.id, _draft(world, None, [], "off1", "Random"),
                                            subjects)
        elif kind == "revoke":
            share = world.shares[args[0]]
            for recipient in db.session().scalars(select(ShareRecipient).where(ShareRecipient.share_id == share.id)):
                share_recipients.revoke(world.user("nurse"), share.id, recipient.organisation_id, "no longer needed")
    except (Invalid, NotFound):  # the hub said no: nothing changed
        db.session.rollback()


def ids(html: str, pattern: str) -> set[int]:
    return {int(i) for i in re.findall(pattern, html)}


def opens(client, url: str) -> bool:
    status = client.get(url).status_code
    assert status in (200, 404), f"{url}: {status}"
    return status == 200


def check(client, world: RichWorld, who: str, searched: str = "mace") -> list[str]:
    """Each list, search, export and count against the detail pages, for one user."""
    s = db.session()
    problems = []

    def compare(what: str, listed: set[int], detailed: set[int]) -> None:
        if listed != detailed:
            problems.append(f"{who}: {what} lists {sorted(listed)}, the detail pages open {sorted(detailed)}")

    children = {c.id: c for c in s.scalars(select(Child))}
    detailed = {i for i in children if opens(client, f"/children/{i}")}
    compare("/children", ids(client.get("/children").get_data(as_text=True), r'href="/children/(\d+)"'), detailed)
    for name, (given_name, family, dob) in CHILDREN.items():
        child_id = world.children[name].id
        queries = [given_name] + ([f"{given_name} {family}", dob.strftime("%d/%m/%Y"), world.nhs_numbers[name]]
                             if name == searched else [])
        for query in queries:
            found = ids(client.get("/children", query_string={"name": query}).get_data(as_text=True),
                        r'href="/children/(\d+)"')
            compare(f"a search for {name} by {query!r}", found & {child_id}, detailed & {child_id})

    # A share's lists: the organisation's register (and its spreadsheet, and "shared with and by
    # us") for what the organisation holds, and the groups' intelligence lists for MACE intelligence
    # (a member named after it was shared reads it there; their organisation never received it).
    shares = list(s.scalars(select(ShareRecord)))
    detailed = {sh.id for sh in shares if opens(client, f"/sharing/{sh.id}")}
    mace_ids = {sh.id for sh in shares if sh.mace_group_id is not None}
    register = ids(client.get("/sharing/register").get_data(as_text=True), r'href="/sharing/(\d+)"')
    index = ids(client.get("/sharing").get_data(as_text=True), r'href="/sharing/(\d+)"') & {sh.id for sh in shares}
    in_groups = set()
    for g in (world.group.id, world.group2.id):
        page = client.get(f"/mace/groups/{g}/intelligence")
        if page.status_code == 200:
            in_groups |= ids(page.get_data(as_text=True), r'href="/mace/intelligence/(\d+)"')
    compare("/sharing/register (and the groups' intelligence)", register | in_groups, detailed)
    compare("/sharing/register, outside MACE", register - mace_ids, detailed - mace_ids)
    compare("/sharing (and the groups' intelligence)", index | in_groups, detailed)
    compare("the groups' intelligence", in_groups, detailed & mace_ids)
    export = client.get("/sharing/register.xlsx")
    exported = set()
    if export.status_code == 200:
        book = load_workbook(io.BytesIO(export.get_data()), read_only=True)
        cells = {str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for v in row}
        # Each share's summary is its own ("Random" ones too: then any of them stands for all).
        exported = {sh.id for sh in shares if sh.summary in cells}
    summaries = {sh.id: sh.summary for sh in shares}
    compare("/sharing/register.xlsx (by summary)", {summaries[i] for i in exported},
            {summaries[i] for i in register})
    for i in exported:
        if i not in detailed and summaries[i] not in {summaries[j] for j in detailed}:
            problems.append(f"{who}: /sharing/register.xlsx shows share {i}, whose page is refused")

    episodes = list(s.scalars(select(MissingEpisode.id)))
    detailed = {e for e in episodes if opens(client, f"/missing/{e}")}
    listing = client.get("/missing")
    compare("/missing", ids(listing.get_data(as_text=True), r'href="/missing/(\d+)"') if listing.status_code == 200
            else set(), detailed)

    groups = [world.group.id, world.group2.id]
    detailed = {g for g in groups if opens(client, f"/mace/groups/{g}")}
    compare("/mace", ids(client.get("/mace").get_data(as_text=True), r'href="/mace/groups/(\d+)"'), detailed)
    intelligence_ids = list(s.scalars(select(ShareRecord.id).where(ShareRecord.mace_group_id.is_not(None))))
    compare("the groups' intelligence (pages)", in_groups,
            {i for i in intelligence_ids if opens(client, f"/mace/intelligence/{i}")})

    # The inbox lists the copies addressed to the user; a key adult also opens the other copies of
    # their school's notifications (from the school's own pages), never one of another school.
    mine = {n.id for n in s.scalars(select(Notification).where(Notification.user_id == world.users[who].id))}
    notifications = list(s.scalars(select(Notification.id)))
    detailed = {n for n in notifications if opens(client, f"/notifications/{n}")}
    inbox = client.get("/notifications")
    listed = ids(inbox.get_data(as_text=True), r'href="/notifications/(\d+)"') if inbox.status_code == 200 else set()
    compare("/notifications", listed, detailed & mine)
    db.session.remove()
    return problems


@settings(max_examples=6, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(changes=st.lists(step, min_size=1, max_size=4), who=st.sampled_from(USERS),
       searched=st.sampled_from(list(CHILDREN)))
def test_every_list_search_and_export_shows_exactly_what_the_detail_pages_open(changes, who, searched, rich_app,
                                                                                rich_world, clients):
    db.bind(rich_app.extensions["hub_engine"])
    with rich_app.app_context():
        for change in changes:
            apply(rich_world, change)
        db.session.remove()
    problems = check(clients[who], rich_world, who, searched)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("who", ["member", "former", "chair", "off1", "dpo_f1", "nurse_member"])
def test_before_any_change_too(who, rich_app, rich_world, clients):
    """The world as built, for the near-insiders of MACE: the same comparison with no change drawn."""
    db.bind(rich_app.extensions["hub_engine"])
    problems = check(clients[who], rich_world, who)
    assert not problems, "\n".join(problems)
