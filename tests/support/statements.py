"""Counting the SQL statements a call or a page runs (the tests that hold a page's cost flat)."""

from __future__ import annotations

from sqlalchemy import event


def count_statements(app, call) -> int:
    """How many SQL statements `call` runs (the audit log's bookkeeping aside)."""
    engine = app.extensions["hub_engine"]
    count = [0]

    def seen(_conn, _cursor, statement, *_args):
        # The audit log's own bookkeeping (its tree grows in steps) is not the page's.
        count[0] += "audit_" not in statement

    event.listen(engine, "before_cursor_execute", seen)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return count[0]


def page_statements(app, client, url: str) -> tuple[list[str], str]:
    """Every SQL statement one GET runs, from loading the session to the audit write, and the page."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    engine = app.extensions["hub_engine"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.status_code
    return seen, response.get_data(as_text=True)
