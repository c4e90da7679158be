"""The production server's settings keep personal data out of its logs: the access log format
names no query string, request line or referrer (a child's name typed into the search is in the
query of a GET form)."""

from __future__ import annotations

import runpy
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_access_log_holds_no_query_string_request_line_or_referrer():
    settings = runpy.run_path(str(REPO / "gunicorn.conf.py"))
    log_format = settings["access_log_format"]
    assert "%(U)s" in log_format  # the path alone
    for leaks in ("%(q)s", "%(r)s", "%(f)s", "%(a)s", "%({cookie}i)s"):
        assert leaks not in log_format, leaks


def test_the_readme_serves_the_hub_with_these_settings():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "gunicorn -c gunicorn.conf.py wsgi:app" in readme
