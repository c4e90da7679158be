"""The network picture never lies about who is linked through whom: on the drawn SVG (parsed, as
a reader's eye takes it), no edge passes through a node it does not join. Checked on the page
for the network the issue found (a child, a place, another child, drawn on one line through the
first child) and on the drawings of many generated networks of children, places and people."""

from __future__ import annotations

import math
import random
import re
from datetime import date

import networkx as nx
import pytest
from flask import render_template

from hub import db
from hub.mace.operations import network, subjects
from hub.models.mace import MaceAgendaChild, MaceGroup
from tests.factories import sign_in

#: The widest node drawn reaches this far from its centre (the triangle's corners, 14 and 12 out).
NODE_REACH = math.hypot(14, 12)
KINDS = ("child", "location", "person")


def drawn(svg: str) -> tuple[list[tuple[float, float]], list[tuple[tuple[float, float], tuple[float, float]]]]:
    """The node centres and the edges as the SVG draws them."""
    number = r"(-?[\d.]+)"
    centres = [(float(x), float(y)) for x, y in re.findall(rf'<circle cx="{number}" cy="{number}"', svg)]
    centres += [(float(x) + 12, float(y) + 12) for x, y in re.findall(rf'<rect x="{number}" y="{number}"', svg)]
    centres += [(float(x), float(y) + 14) for x, y in re.findall(rf'<polygon points="{number},{number} ', svg)]
    edges = [((float(a), float(b)), (float(c), float(d))) for a, b, c, d in re.findall(
        rf'<line x1="{number}" y1="{number}" x2="{number}" y2="{number}"', svg)]
    return centres, edges


def distance_to_segment(p, a, b) -> float:
    """Worked out here, not taken from the code under test."""
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def edges_through_nodes(svg: str) -> list[str]:
    """Each (edge, node) pair where the edge passes through a node that is not one of its ends."""
    centres, edges = drawn(svg)
    faults = []
    for a, b in edges:
        ends = [c for c in centres if math.dist(c, a) < 0.5 or math.dist(c, b) < 0.5]
        assert len(ends) == 2, f"edge {a}-{b} does not join two drawn nodes"
        for c in centres:
            if c not in ends and distance_to_segment(c, a, b) <= NODE_REACH:
                faults.append(f"edge {a}-{b} passes through the node at {c}")
    return faults


def _svg(html: str) -> str:
    return html[html.index("<svg"):html.index("</svg>")]


def _render(app, graph: nx.Graph, centre) -> str:
    ego = nx.ego_graph(graph, centre, radius=2)
    names = {n: f"{n[0].title()} {n[1]}" for n in ego.nodes}
    drawing = network.draw(ego, centre, names)
    page = network.NetworkPage(MaceGroup(id=1, name="Group"), drawing.centre, drawing.nodes, drawing.edges,
                               drawing.width, drawing.height)
    with app.test_request_context():
        return _svg(render_template("mace/network.html", page=page))


def _generated(seed: int) -> tuple[nx.Graph, tuple[str, int]]:
    """A group's links as the hub allows them (a child, a place and a person: no two of a kind)."""
    rng = random.Random(seed)
    counts = (rng.randint(2, 9), rng.randint(1, 5), rng.randint(0, 4))
    nodes = [(kind, n) for kind, count in zip(KINDS, counts, strict=True) for n in range(count)]
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    for a in nodes:
        for b in nodes:
            if a < b and a[0] != b[0] and rng.random() < 0.35:
                graph.add_edge(a, b)
    return graph, rng.choice(nodes)


def test_the_old_one_line_case_a_child_a_place_and_another_child(app):
    """The issue's picture: centred on a child, its place above, the other child below, so the
    place-child edge ran through the centre child."""
    graph = nx.Graph([(("child", 1), ("location", 1)), (("location", 1), ("child", 2))])
    svg = _render(app, graph, ("child", 1))
    assert len(drawn(svg)[0]) == 3 and edges_through_nodes(svg) == []


@pytest.mark.parametrize("centre_kind", KINDS)
def test_two_linked_neighbours_of_the_centre_are_not_drawn_through_it(app, centre_kind):
    """The centre's two neighbours are linked to each other (a child seen with a person at a
    place): opposite each other on one ring, their edge would cross the centre."""
    others = [k for k in KINDS if k != centre_kind]
    graph = nx.Graph([((centre_kind, 1), (others[0], 1)), ((centre_kind, 1), (others[1], 1)),
                      ((others[0], 1), (others[1], 1))])
    assert edges_through_nodes(_render(app, graph, (centre_kind, 1))) == []


def test_a_place_with_many_children_and_a_person_linked_to_each(app):
    graph = nx.Graph()
    for n in range(8):
        graph.add_edge(("location", 1), ("child", n))
        graph.add_edge(("child", n), ("person", n % 3))
    for centre in (("location", 1), ("child", 0), ("person", 2)):
        assert edges_through_nodes(_render(app, graph, centre)) == [], centre


@pytest.mark.parametrize("seed", range(40))
def test_no_edge_passes_through_a_node_on_generated_networks(app, seed):
    graph, centre = _generated(seed)
    svg = _render(app, graph, centre)
    assert len(drawn(svg)[0]) == nx.ego_graph(graph, centre, radius=2).number_of_nodes()
    assert edges_through_nodes(svg) == []


def test_the_page_draws_the_one_line_case_without_an_edge_through_a_node(app, mace):
    """The same, through the page a member opens (real links in the database)."""
    first, second = mace.children[0], mace.children[1]
    with db.unit_of_work() as s:
        s.add_all(MaceAgendaChild(group_id=mace.group.id, child_id=c.id) for c in (first, second))
    police = mace.user("police")
    place = subjects.add_location(police, mace.group.id, subjects.LocationDetails("Rec ground", "park"))
    for child in (first, second):
        subjects.add_link(police, mace.group.id, subjects.LinkDetails("Patrol", date.today(), child_id=child.id,
                                                                      location_id=place.id))
    client = app.test_client()
    sign_in(client, *mace.users["nurse"])
    svg = _svg(client.get(f"/mace/network/child/{first.id}").get_data(as_text=True))
    assert len(drawn(svg)[0]) == 3 and len(drawn(svg)[1]) == 2
    assert edges_through_nodes(svg) == []
