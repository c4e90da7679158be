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
from hub.db import unit_of_work
from hub.errors import NotFound
from hub.mace.service import group_for
from hub.models.auth import User
from hub.models.mace import MaceAgendaChild, MaceGroup, MaceLink, MaceLocation, MacePerson, SubjectKind
from hub.models.people import Child
from hub.permissions import child_bases, load_mace_object, mace_child_access, member_group_ids

#: The drawing's least size (a larger network draws larger; the page scales it to fit).
WIDTH, HEIGHT = 720, 480
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


#: Layout units are drawing pixels. Rings' radii from the centre; how far any edge keeps from the
#: centre of a node it does not join (the widest node drawn reaches 19 from its centre: a 28-wide
#: triangle); how far apart nodes stay (room for the label under each).
RING_RADIUS = {0: 0.0, 1: 150.0, 2: 300.0}
CLEARANCE = 24.0
SPACING = 80.0
#: Label sizes, to fit the drawing around the names (Arial at 14px: about 7.7px a character).
LABEL_CHAR, LABEL_BELOW = 7.7, 30
Point = tuple[float, float]


def distance_to_segment(p: Point, a: Point, b: Point) -> float:
    """How far point p is from the segment a-b."""
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _fits(node: Node, p: Point, placed: dict[Node, Point], graph: nx.Graph) -> bool:
    """Whether `node` may sit at p among the nodes already placed: apart from each of them, off
    every edge already drawn, and its own edges to placed neighbours clear of every other node."""
    if any(math.dist(p, q) < SPACING for q in placed.values()):
        return False
    for a, b in graph.edges:
        if a in placed and b in placed and distance_to_segment(p, placed[a], placed[b]) < CLEARANCE:
            return False
    for neighbour in graph.neighbors(node):
        if neighbour in placed:
            end = placed[neighbour]
            if any(distance_to_segment(q, p, end) < CLEARANCE for other, q in placed.items() if other != neighbour):
                return False
    return True


def _candidates(radius: float, angle: float, reach: int) -> list[Point]:
    """Points near the ideal (radius, angle), nearest first: the same ring turning either way,
    then rings further out (and, past the first ring, further in)."""
    found = []
    for dr in range(-60 if radius > RING_RADIUS[1] else 0, 60 * reach + 1, 30):
        r = radius + dr
        if r <= 0:
            continue
        for k in range(73):
            for turn in ((k,) if k in (0, 72) else (k, -k)):
                da = math.radians(2.5 * turn)
                cost = abs(dr) + r * abs(da) * 0.6
                found.append((cost, r * math.cos(angle + da), r * math.sin(angle + da)))
    found.sort()
    return [(x, y) for _, x, y in found]


def _ideal_angles(ring: list[Node], anchors: dict[Node, float]) -> dict[Node, float]:
    """The ring's nodes spread evenly, in the order of the angle they hang from (their placed
    neighbours' mean direction), so that a node sits near what it is linked through."""
    order = sorted(ring, key=lambda n: (anchors.get(n, 0.0), n))
    offset = anchors[order[0]] if order and order[0] in anchors else -math.pi / 2
    return {n: offset + 2 * math.pi * k / len(order) for k, n in enumerate(order)}


def layout(graph: nx.Graph, centre: Node, steps: dict[Node, int]) -> dict[Node, Point]:
    """Positions, centre at (0, 0), such that no edge passes within CLEARANCE of a node it does not
    join and no two nodes are closer than SPACING. Concentric rings alone put nodes on one line
    (a ring-1 node, the centre and a ring-2 node opposite: the edge between the outer two crosses
    the centre, and a child looks linked through another child), so each node, nearest ring
    first, takes the free point nearest its ideal place that keeps those two rules against every
    node and edge already placed; between them the two checks cover every edge-node pair."""
    placed: dict[Node, Point] = {centre: (0.0, 0.0)}
    for step in (1, 2):
        ring = sorted(n for n in graph.nodes if steps.get(n) == step)
        anchors = {}
        for n in ring:
            ends = [placed[m] for m in graph.neighbors(n) if m in placed and m != centre]
            if ends:
                anchors[n] = math.atan2(sum(y for _, y in ends), sum(x for x, _ in ends))
        ideal = _ideal_angles(ring, anchors)
        for node in sorted(ring, key=lambda n: (ideal[n], n)):
            reach = 4
            while True:
                spot = next((p for p in _candidates(RING_RADIUS[step], ideal[node], reach)
                             if _fits(node, p, placed, graph)), None)
                if spot is not None or reach > 64:
                    break
                reach *= 2
            # Never reached on a network of a group's size; a place is still given, not an error.
            placed[node] = spot if spot is not None else (RING_RADIUS[step] + 60.0 * reach, 0.0)
    return placed


def _fit(positions: dict[Node, Point], names: dict[Node, str]) -> tuple[dict[Node, Point], int, int]:
    """Moved (never scaled: the gaps are in drawing pixels) so that every node and its label is
    inside the drawing, at least WIDTH by HEIGHT, content centred."""
    half = {n: max(20.0, LABEL_CHAR * len(names[n]) / 2) for n in positions}
    left = min(x - half[n] for n, (x, _) in positions.items())
    right = max(x + half[n] for n, (x, _) in positions.items())
    top = min(y for _, y in positions.values()) - 20
    bottom = max(y for _, y in positions.values()) + LABEL_BELOW + 10
    width, height = max(WIDTH, math.ceil(right - left + 20)), max(HEIGHT, math.ceil(bottom - top + 20))
    dx, dy = (width - (right - left)) / 2 - left, (height - (bottom - top)) / 2 - top
    return {n: (round(x + dx, 1), round(y + dy, 1)) for n, (x, y) in positions.items()}, width, height


@dataclass
class Drawing:
    centre: NetworkNode
    nodes: list[NetworkNode]
    edges: list[tuple[NetworkNode, NetworkNode]]
    width: int
    height: int


def draw(ego: nx.Graph, centre: Node, names: dict[Node, str]) -> Drawing:
    """The subject's network (its two-step ego graph) laid out for the page's SVG and table."""
    steps = nx.single_source_shortest_path_length(ego, centre)
    places, width, height = _fit(layout(ego, centre, steps), names)
    built: dict[Node, NetworkNode] = {}
    for node in sorted(ego.nodes, key=lambda n: (steps[n], n[0], names[n].lower())):
        through = sorted(names[m] for m in ego.neighbors(node) if steps.get(m) == 1) if steps[node] == 2 else []
        built[node] = NetworkNode(node[0], node[1], names[node], steps[node], through, *places[node])
    edges = [(built[a], built[b]) for a, b in ego.edges]
    return Drawing(built[centre], [n for key, n in built.items() if key != centre], edges, width, height)


def network(actor: User, kind: str, subject_id: int, group_id: int | None = None) -> NetworkPage:
    """The subject's network within its group, one and two steps away; audited as one read."""
    if kind not in COLOURS:
        raise NotFound("no such kind of subject")
    group = _centre(actor, kind, subject_id, group_id)
    centre: Node = (kind, subject_id)
    graph = group_graph(group.id)
    graph.add_node(centre)
    ego = nx.ego_graph(graph, centre, radius=2)
    drawing = draw(ego, centre, _names(actor, group.id, list(ego.nodes)))
    children = sorted(i for k, i in ego.nodes if k == "child")
    with unit_of_work():
        audit.record("read", actor=actor, object_type="mace-network", object_id=subject_id,
                     child_id=subject_id if kind == "child" else None, basis="mace-member",
                     detail={"kind": kind, "group": group.id, "children": children})
    return NetworkPage(group, drawing.centre, drawing.nodes, drawing.edges, drawing.width, drawing.height)
