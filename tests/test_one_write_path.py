"""One write path per rule (issue 21): an outbox e-mail is written only by hub.notifications.outbox,
whichever package sends it, so a change to what an e-mail carries is made and tested once."""

from __future__ import annotations

import ast
from pathlib import Path

HUB = Path(__file__).resolve().parents[1] / "hub"
#: table model -> the one module that may write its rows.
WRITERS = {"OutboxMessage": "notifications/outbox.py"}


def _writes(tree: ast.AST, model: str) -> list[int]:
    """Lines that make a row of `model` (calling the class) or insert into it (insert(model...))."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name == model or (name.endswith("insert") and node.args and model in ast.unparse(node.args[0])):
            lines.append(node.lineno)
    return lines


def test_each_table_has_one_writer():
    strays = []
    for path in sorted(HUB.rglob("*.py")):
        relative = path.relative_to(HUB).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for model, writer in WRITERS.items():
            if relative != writer:
                strays += [f"hub/{relative}:{line} writes {model}" for line in _writes(tree, model)]
    assert strays == [], "a second writer (use the one path):\n" + "\n".join(strays)


def test_the_check_sees_a_second_writer():
    stray = ast.parse("def f(s):\n    s.add(OutboxMessage(to_address='x'))\n    s.execute(insert(OutboxMessage), [])\n")
    assert _writes(stray, "OutboxMessage") == [2, 3]
