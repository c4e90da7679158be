"""The network around a child, a location or a person of concern: the other subjects of the group
linked to it one and two steps away (which children share a place or an association).

The graph is built with networkx from the group's active links (one query), cut to the subject's
two-step neighbourhood (`nx.ego_graph`), named with one query per kind of subject, and laid out
for a server-drawn SVG (no script, no external resource) with the same content as a table. The
number of SQL statements does not depend on the size of the group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
from sqlalchemy import or_, select
from sqlalchemy.orm import load_only, raiseload

from hub import db
from hub.audit import service as audit
from hub.auth.models import User
from hub.db import unit_of_work
from hub.errors import NotFound
from hub.mace.models import MaceAgendaChild, MaceGroup, MaceLink, MaceLocation, MacePerson, SubjectKind
from hub.mace.service import group_for
from hub.people.models import Child
from hub.permissions import child_bases, load_mace_object, mace_child_access, member_group_ids

WIDTH, HEIGHT, MARGIN = 720, 480, 70
COLOURS = {"child": "#1d70b8", "location": "#00703c", "person": "#d4351c"}
Node = tuple[str, int]


@dataclass
class NetworkNode:
    kind: str
    subject_id: int
    name: str
    steps: int
    through: list[str]
    x: float
    y: float

    @property
    def kind_label(self) -> str:
        return SubjectKind(self.kind).label

    @property
    def colour(self) -> str:
        return COLOURS[self.kind]


@dataclass
class NetworkPage:
    group: MaceGroup
    centre: NetworkNode
    nodes: list[NetworkNode]  # without the centre, nearest first
    edges: list[tuple[NetworkNode, NetworkNode]]
    width: int = WIDTH
    height: int = HEIGHT


def _group_of_child(actor: User, child_id: int, group_id: int | None) -> MaceGroup:
    """The group whose network of the child is shown: the one asked for, else the first of the
    viewer's groups that holds the child; an audited 404 otherwise."""
    if group_id is None:
        group_id = db.session().scalar(select(MaceAgendaChild.group_id).where(
            MaceAgendaChild.child_id == child_id, MaceAgendaChild.removed_at.is_(None),
            MaceAgendaChild.group_id.in_(member_group_ids(actor))).order_by(MaceAgendaChild.group_id).limit(1))
    if group_id is None:
        audit.record_refusal(actor, "mace-network", child_id, child_id)
        raise NotFound("MACE record not found")
    group, _ = group_for(actor, group_id)
    if not mace_child_access(actor, group.id, child_id):
        audit.record_refusal(actor, "mace-network", child_id, child_id)
        raise NotFound("MACE record not found")
    return group


def _centre(actor: User, kind: str, subject_id: int, group_id: int | None) -> MaceGroup:
    if kind == "child":
        return _group_of_child(actor, subject_id, group_id)
    model = MaceLocation if kind == "location" else MacePerson
    subject, _ = load_mace_object(actor, model, subject_id)
    if kind == "person" and subject.removed_at is not None:
        audit.record_refusal(actor, "mace-person", subject_id)
        raise NotFound("MACE record not found")
    return db.session().get(MaceGroup, subject.group_id)


def group_graph(group_id: int) -> nx.Graph:
    """The group's active links as a graph of (kind, id) nodes, in one query (links to a person
    removed at review are left out)."""
    rows = db.session().execute(
        select(MaceLink.child_id, MaceLink.location_id, MaceLink.person_id)
        .outerjoin(MacePerson, MacePerson.id == MaceLink.person_id)
        .where(MaceLink.group_id == group_id, MaceLink.ended_at.is_(None),
               or_(MaceLink.person_id.is_(None), MacePerson.removed_at.is_(None))))
    graph = nx.Graph()
    for child_id, location_id, person_id in rows:
        ends = [(k, i) for k, i in (("child", child_id), ("location", location_id), ("person", person_id)) if i]
        graph.add_edge(*ends)
    return graph


def _names(actor: User, group_id: int, nodes: list[Node]) -> dict[Node, str]:
    """Every node named, in at most five queries; a child the viewer may not see stays unnamed. Only
    the names are loaded (every encrypted column loaded is one more decryption per row). The viewer
    is a current member, so the children the group holds are theirs to see ("mace-member"); only a
    linked child the group does not hold is asked about (child_bases), never the set of every child
    the viewer reaches."""
    s = db.session()
    ids = {k: [i for kind, i in nodes if kind == k] for k in COLOURS}
    names: dict[Node, str] = {("child", i): "A child you may not see" for i in ids["child"]}
    held = set(s.scalars(select(MaceAgendaChild.child_id).where(
        MaceAgendaChild.group_id == group_id, MaceAgendaChild.removed_at.is_(None),
        MaceAgendaChild.child_id.in_(ids["child"]))))
    others = [i for i in ids["child"] if i not in held]
    seen = list(held) + (list(child_bases(actor, others)) if others else [])
    names |= {("child", c.id): c.full_name for c in s.scalars(select(Child).where(Child.id.in_(seen)).options(
        load_only(Child.given_name, Child.family_name), raiseload("*")))}
    names |= {("location", loc.id): loc.name for loc in s.scalars(select(MaceLocation).where(
        MaceLocation.id.in_(ids["location"])).options(load_only(MaceLocation.name), raiseload("*")))}
    names |= {("person", p.id): p.name for p in s.scalars(select(MacePerson).where(
        MacePerson.id.in_(ids["person"])).options(load_only(MacePerson.name), raiseload("*")))}
    return names


def _positions(ego: nx.Graph, centre: Node, steps: dict[Node, int]) -> dict[Node, tuple[float, float]]:
    """The centre in the middle and one ring per step (networkx's shell_layout, without the numpy
    it needs: a few lines of trigonometry), scaled to the drawing."""
    half_w, half_h = WIDTH / 2 - MARGIN, HEIGHT / 2 - MARGIN / 2
    placed = {centre: (WIDTH / 2, HEIGHT / 2)}
    for step in (1, 2):
        ring = sorted(n for n in ego.nodes if steps[n] == step)
        radius = step / 2
        for k, node in enumerate(ring):
            angle = 2 * math.pi * k / len(ring) + (math.pi / len(ring) if step == 2 else 0) - math.pi / 2
            placed[node] = (round(WIDTH / 2 + radius * half_w * math.cos(angle), 1),
                            round(HEIGHT / 2 + radius * half_h * math.sin(angle), 1))
    return placed


def network(actor: User, kind: str, subject_id: int, group_id: int | None = None) -> NetworkPage:
    """The subject's network within its group, one and two steps away; audited as one read."""
    if kind not in COLOURS:
        raise NotFound("no such kind of subject")
    group = _centre(actor, kind, subject_id, group_id)
    centre: Node = (kind, subject_id)
    graph = group_graph(group.id)
    graph.add_node(centre)
    ego = nx.ego_graph(graph, centre, radius=2)
    steps = nx.single_source_shortest_path_length(ego, centre)
    names = _names(actor, group.id, list(ego.nodes))
    places = _positions(ego, centre, steps)
    built: dict[Node, NetworkNode] = {}
    for node in sorted(ego.nodes, key=lambda n: (steps[n], n[0], names[n].lower())):
        through = sorted(names[m] for m in ego.neighbors(node) if steps.get(m) == 1) if steps[node] == 2 else []
        built[node] = NetworkNode(node[0], node[1], names[node], steps[node], through, *places[node])
    edges = [(built[a], built[b]) for a, b in ego.edges]
    children = sorted(i for k, i in ego.nodes if k == "child")
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-network", object_id=subject_id,
                     child_id=subject_id if kind == "child" else None, basis="mace-member",
                     detail={"kind": kind, "group": group.id, "children": children})
    return NetworkPage(group, built[centre], [n for key, n in built.items() if key != centre], edges)
