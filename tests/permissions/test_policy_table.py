"""The README's permissions tables are generated from the rules: when a rule changes, this fails
until the README shows the new table (`python -m hub.permissions.table` prints it)."""

from __future__ import annotations

import runpy
import warnings
from pathlib import Path

from hub.permissions import RULES
from hub.permissions.children import RELATIONSHIP_ROLES
from hub.permissions.table import KINDS, RELATIONSHIPS, kinds_table, relationship_table

README = Path(__file__).resolve().parents[2] / "README.md"
PACKAGE = Path(__file__).resolve().parents[2] / "hub" / "permissions"


def test_the_readme_shows_the_tables_the_rules_generate():
    text = README.read_text()
    assert relationship_table() in text, "README's relationship table is stale: python -m hub.permissions.table"
    assert kinds_table() in text, "README's table of kinds of object is stale: python -m hub.permissions.table"


def test_every_relationship_is_described_and_every_description_is_a_relationship():
    assert set(RELATIONSHIPS) == set(RELATIONSHIP_ROLES)


def test_each_kind_names_a_module_that_exists_and_every_rule_is_a_kind():
    for _kind, _who, module in KINDS:
        assert (PACKAGE / f"{module}.py").exists(), module
    named = " ".join(kind for kind, _who, _module in KINDS)
    for model in RULES:
        word = {"ShareRecord": "share record", "MissingEpisode": "missing episode", "Notification": "notification",
                "ConsentRecord": "consent record", "ImportBatch": "police download",
                "ImportReviewItem": "police download", "RetentionRecord": "record under retention",
                "LegalHold": "legal hold", "ErasureRequest": "erasure request"}[model.__name__]
        assert word in named, model.__name__


def test_the_command_the_readme_names_prints_both_tables_ready_to_paste(capsys):
    with warnings.catch_warnings():  # run again as __main__, as `python -m hub.permissions.table` does
        warnings.simplefilter("ignore", RuntimeWarning)
        runpy.run_module("hub.permissions.table", run_name="__main__")
    printed = capsys.readouterr().out
    assert printed == f"{relationship_table()}\n\n{kinds_table()}\n"
    assert printed.strip() in README.read_text()
