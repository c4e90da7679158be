"""An event's leaf is RFC 8785 whichever way it is written (issue 24, "every rule executed"): the
fast path (json.dumps) where it gives the same bytes, rfc8785 itself for a column value it cannot
vouch for (an integer past 2**53, a non-ASCII key, a float) and for a lone surrogate, which
rfc8785 refuses as it always did."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import rfc8785

from hub.audit import service as audit
from hub.audit.service import rfc3339


def _columns(**changes) -> dict:
    values = {name: None for name in audit.LEAF_FIELDS}
    values.update(seq=7, occurred_at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC), outcome="done", action="read",
                  object_type="child", detail=json.dumps({"children": [1, 2]}))
    values.update(changes)
    return values


def _expected(values: dict) -> bytes:
    fields = dict(values, occurred_at=rfc3339(values["occurred_at"]),
                  detail=json.loads(values["detail"]) if values["detail"] else None)
    return rfc8785.dumps(fields)


@pytest.mark.parametrize("changes", [
    {},
    {"seq": 2**53},                                  # past I-JSON's integers: rfc8785 decides
    {"object_id": 1.5},                              # a float column value
    {"detail": json.dumps({"é": 1})},                 # a non-ASCII key in the detail
    {"detail": None},
], ids=["plain", "huge-seq", "float", "non-ascii-key", "no-detail"])
def test_the_leaf_is_rfc8785_on_either_path(changes):
    values = _columns(**changes)
    try:
        expected = _expected(values)
    except Exception as exc:  # noqa: BLE001 - then the hub must refuse it the same way
        with pytest.raises(type(exc)):
            audit._leaf_of(values)
        return
    assert audit._leaf_of(values) == expected


def test_a_lone_surrogate_is_refused_as_rfc8785_refuses_it():
    value = {"user_agent": "bad \ud800 agent"}
    with pytest.raises(Exception) as ours:  # noqa: B017 - whatever rfc8785 raises, the hub raises too
        audit.canonical_json(value)
    with pytest.raises(type(ours.value)):
        rfc8785.dumps(value)
