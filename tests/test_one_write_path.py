"""One write path per rule (issue 21): each of these tables is written by one module only, whichever
package causes the write, so a change to what a new row carries (who is told, what an e-mail says,
what an event records) is made and tested once. Creating one row is creating a list of one:
- an episode: hub.missing.service.create_episodes (a practitioner's form, the API, the download);
- a notification: hub.notifications.issuing.issue (first notices, escalations, "still missing");
- an outbox e-mail: hub.notifications.outbox.queue, whichever package sends it;
- an audit event (and its listed children): hub.audit.service._append."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from hub.models.audit import AuditEvent, AuditEventChild
from hub.models.missing import MissingEpisode
from hub.models.notifications import Notification, OutboxMessage

HUB = Path(__file__).resolve().parents[1] / "hub"
#: table model -> the one module that may write its rows.
WRITERS = {
    "MissingEpisode": "missing/service.py",
    "Notification": "notifications/issuing.py",
    "OutboxMessage": "notifications/outbox.py",
    "AuditEvent": "audit/service.py",
    "AuditEventChild": "audit/service.py",
}
TABLES = {model.__name__: model.__tablename__
          for model in (MissingEpisode, Notification, OutboxMessage, AuditEvent, AuditEventChild)}
#: (module, model) pairs that call the class without writing a row, and why.
NOT_WRITES = {
    # A transient episode (never added to a session) carries a stored row's values to the rules.
    ("missing/deadlines.py", "MissingEpisode"),
}
BULK_CALLS = {"bulk_insert_mappings", "bulk_save_objects"}


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _mentions(node: ast.AST, model: str, aliases: set[str]) -> bool:
    """Whether an expression names the model (not a longer name: Notification is not NotificationReply)
    or a local name bound to it (`table = Notification.__table__`)."""
    names = set(re.findall(r"\w+", ast.unparse(node)))
    return model in names or bool(names & aliases)


def _aliases(scope: ast.AST, model: str) -> set[str]:
    """Names a function binds to an expression naming the model (the module: its own statements)."""
    nodes = scope.body if isinstance(scope, ast.Module) else ast.walk(scope)
    return {target.id for node in nodes if isinstance(node, ast.Assign) and _mentions(node.value, model, set())
            for target in node.targets if isinstance(target, ast.Name)}


def _writes(tree: ast.AST, model: str) -> list[int]:
    """Lines that make a row of `model` (calling the class), insert into it (`insert(model...)`,
    `model.__table__.insert()`, the session's bulk inserts, through a local alias or not), or
    name its table in an INSERT written as SQL."""
    table = TABLES.get(model, "")
    lines = set()
    scopes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]
    for scope in scopes:
        aliases = _aliases(scope, model)
        for node in ast.walk(scope):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and table and re.search(
                    rf"insert\s+(or\s+\w+\s+)?into\s+\"?{table}\b", node.value, re.IGNORECASE):
                lines.add(node.lineno)
            if not isinstance(node, ast.Call):
                continue
            name = _name(node.func)
            if (name == model
                    or (name.endswith("insert") and node.args and _mentions(node.args[0], model, aliases))
                    or (name == "insert" and isinstance(node.func, ast.Attribute)
                        and _mentions(node.func.value, model, aliases))
                    or (name in BULK_CALLS and node.args and _mentions(node.args[0], model, aliases))):
                lines.add(node.lineno)
    return sorted(lines)


def test_each_table_has_one_writer():
    strays = []
    for path in sorted(HUB.rglob("*.py")):
        relative = path.relative_to(HUB).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for model, writer in WRITERS.items():
            if relative != writer and (relative, model) not in NOT_WRITES:
                strays += [f"hub/{relative}:{line} writes {model}" for line in _writes(tree, model)]
    assert strays == [], "a second writer (use the one path):\n" + "\n".join(strays)


def test_each_writer_writes_its_table():
    """The check reads the writers themselves, so a rename that hides a write from it shows here."""
    for model, writer in WRITERS.items():
        assert _writes(ast.parse((HUB / writer).read_text(encoding="utf-8")), model), (model, writer)


def test_the_check_sees_a_second_writer():
    stray = ast.parse("def f(s):\n    s.add(OutboxMessage(to_address='x'))\n    s.execute(insert(OutboxMessage), [])\n")
    assert _writes(stray, "OutboxMessage") == [2, 3]


def test_the_check_sees_a_second_writer_of_episodes_notifications_and_events():
    stray = ast.parse(
        "def bulk(connection, rows):\n"
        "    table = MissingEpisode.__table__\n"
        "    connection.execute(insert(table), rows)\n"
        "def orm(s):\n"
        "    s.add(Notification(user_id=1))\n"
        "    s.bulk_insert_mappings(Notification, [])\n"
        "def core(connection):\n"
        "    connection.execute(AuditEvent.__table__.insert(), [])\n"
        "    connection.execute(text('INSERT INTO audit_event (seq) VALUES (1)'))\n"
        "def other(s):\n"
        "    s.add(NotificationReply(notification_id=1))\n"
        "    s.execute(insert(NotificationReply), [])\n"
        "    table = Notification.__table__\n"
        "    s.execute(update(table).values(opened_at=None))\n")
    assert _writes(stray, "MissingEpisode") == [3]
    assert _writes(stray, "Notification") == [5, 6]
    assert _writes(stray, "AuditEvent") == [8, 9]
    assert _writes(stray, "AuditEventChild") == []
