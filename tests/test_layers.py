"""The hub is built in layers (issue 21): each top-level entry of hub/ (a package such as hub/mace/,
or a module such as hub/web.py) is one unit, and the imports between units form no cycle. A unit may
import only units below it, so each can be read, tested and changed without the ones above it:

    config, db, crypto, errors, ...   the ground: settings, the database session, keys
    models                             every table, and the vocabulary the tables use
    audit                              the log every change writes to
    permissions                        the access rules: they read every table
    the features                       auth, people, sharing, consent, missing, notifications, ...
    web, home, app, cli                the wiring on top

Every import counts, also one under `if TYPE_CHECKING:` or inside a function: an import hidden
there is still a dependency. The failure names each import that closes a cycle, with file:line."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

from tests.support import pysource

HUB = Path(__file__).resolve().parents[1] / "hub"


def _unit_of(dotted: str) -> str | None:
    """The unit a dotted module name inside the hub belongs to; None outside the hub. The package
    itself (`hub`, its __init__.py) is a unit of its own: `__init__`."""
    parts = dotted.split(".")
    if parts[0] != "hub":
        return None
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(HUB.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module an ImportFrom names, with a relative import resolved against the file's package."""
    if not node.level:
        return node.module or ""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imported_units(node: ast.AST, path: Path) -> list[str]:
    """The units that one import statement reaches. `from hub import web` reaches hub/web.py;
    `from hub import create_app` reaches the package's own __init__.py."""
    if isinstance(node, ast.Import):
        return [unit for alias in node.names if (unit := _unit_of(alias.name))]
    if not isinstance(node, ast.ImportFrom):
        return []
    module = _absolute(node, path)
    if module != "hub":
        return [unit] if (unit := _unit_of(module)) else []
    entries = {child.stem for child in HUB.iterdir() if child.suffix == ".py" or (child / "__init__.py").exists()}
    return [alias.name if alias.name in entries else "__init__" for alias in node.names]


def _unit_of_file(path: Path) -> str:
    return path.relative_to(HUB).parts[0].removesuffix(".py")


def import_graph() -> nx.DiGraph:
    """Units as nodes; an edge A -> B when a file of A imports B, with every (file, line) that does."""
    graph = nx.DiGraph()
    for path in sorted(HUB.rglob("*.py")):
        source = _unit_of_file(path)
        graph.add_node(source)
        for node in ast.walk(pysource.parse_file(path)):
            for target in _imported_units(node, path):
                if target == source:
                    continue
                if not graph.has_edge(source, target):
                    graph.add_edge(source, target, where=[])
                graph.edges[source, target]["where"].append(f"{path.relative_to(HUB.parent)}:{node.lineno}")
    return graph


def _describe(graph: nx.DiGraph, cycle: list[tuple[str, str]]) -> str:
    lines = [" -> ".join([cycle[0][0], *(target for _, target in cycle)])]
    for source, target in cycle:
        lines.append(f"  {source} -> {target}: " + ", ".join(graph.edges[source, target]["where"]))
    return "\n".join(lines)


def test_the_units_of_the_hub_import_each_other_in_no_cycle():
    graph = import_graph()
    cycles = []
    # One cycle at a time, then its imports are set aside to look for the next: every tangle is
    # named, not only the first one found.
    remaining = graph.copy()
    while True:
        try:
            cycle = nx.find_cycle(remaining)
        except nx.NetworkXNoCycle:
            break
        cycles.append(_describe(graph, cycle))
        remaining.remove_edges_from(cycle)
    assert cycles == [], "imports between hub/'s units that close a cycle:\n" + "\n".join(cycles)


def test_the_graph_sees_the_imports_it_is_meant_to():
    """The test above is only as good as its reading of the imports: the wiring on top imports
    the features, and the features import the ground."""
    graph = import_graph()
    assert graph.has_edge("app", "mace")
    assert graph.has_edge("mace", "db")
    assert graph.has_edge("mace", "permissions")
    assert "static" not in graph and "templates" not in graph


def test_the_tables_stand_in_hub_models_only():
    """Every table is in hub/models/<package>.py, one layer below the access rules that read them
    all: a models.py back inside a feature package would let the rules import that package."""
    strays = [str(path.relative_to(HUB.parent)) for path in HUB.rglob("models.py")]
    assert strays == [], "tables outside hub/models/: " + ", ".join(strays)
