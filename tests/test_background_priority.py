"""The background commands (the delivery worker, a download imported from the command line) run
below the web pages on the CPU (HUB_BACKGROUND_NICE, 10 by default): on a busy machine people's
pages come first. The tests' own environment sets 0 (conftest.py), since the commands run in the
test process here."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from hub.config import ConfigurationError, load_settings


def test_the_default_is_ten_and_a_wrong_value_is_refused_by_name(monkeypatch, tmp_path):
    monkeypatch.delenv("HUB_BACKGROUND_NICE")
    assert load_settings(tmp_path).background_nice == 10
    for wrong in ("20", "-1", "ten", "5.5"):
        monkeypatch.setenv("HUB_BACKGROUND_NICE", wrong)
        with pytest.raises(ConfigurationError, match="HUB_BACKGROUND_NICE must be a whole number from 0 to 19"):
            load_settings(tmp_path)
    monkeypatch.setenv("HUB_BACKGROUND_NICE", "0")
    assert load_settings(tmp_path).background_nice == 0


def test_a_process_that_lowers_itself_runs_that_much_nicer():
    """In a process of its own (a process cannot raise its priority again)."""
    script = ("import os; from types import SimpleNamespace; from hub.config import lower_priority_of_background_work;"
              "before = os.nice(0); lower_priority_of_background_work(SimpleNamespace(background_nice=5));"
              "print(os.nice(0) - before)")
    lowered = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert lowered.stdout.strip() == "5"
    unchanged = subprocess.run([sys.executable, "-c", script.replace("background_nice=5", "background_nice=0")],
                               capture_output=True, text=True, check=True)
    assert unchanged.stdout.strip() == "0"


@pytest.mark.parametrize("command", [["notifications", "deliver", "--once"],
                                     ["missing", "import", "{file}", "--force", "NOPE", "--as", "nobody@example.test"]])
def test_each_background_command_lowers_itself_by_the_setting(app, monkeypatch, tmp_path, command):
    lowered: list[int] = []
    monkeypatch.setattr(os, "nice", lambda increment: lowered.append(increment) or 0)
    monkeypatch.setitem(app.config, "HUB", dataclasses.replace(app.config["HUB"], background_nice=7))
    download = tmp_path / "download.xlsx"
    download.write_bytes(b"not read: the force is refused first")
    app.test_cli_runner().invoke(args=[part.format(file=download) for part in command])
    assert lowered == [7]


def test_a_web_page_is_never_lowered(client, monkeypatch):
    lowered: list[int] = []
    monkeypatch.setattr(os, "nice", lambda increment: lowered.append(increment) or 0)
    client.get("/")
    client.get("/auth/sign-in")
    assert lowered == []
