"""One London-time format everywhere: every page shows a moment through the one filter
(hub.web.london), never a time of its own making in UTC or ISO 8601."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from hub.audit import signing
from hub.models.roles import OrgKind, Role
from hub.web import london
from tests.factories import make_org, make_user, sign_in

TEMPLATES = Path(__file__).resolve().parent.parent / "hub" / "templates"
#: MACE's pages were being changed by another engineer when this test was written: these two
#: still format an intelligence item's time themselves (UTC). Empty this once they use `| london`.
NOT_YET = {"mace/intelligence_item.html: .strftime('%-d %b %Y %H:%M')",
           "mace/intelligence_list.html: .strftime('%-d %b %Y %H:%M')"}


def test_no_template_formats_a_time_of_day_itself():
    """A time of day goes through `| london`; dates alone may be written as dates."""
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for found in re.findall(r"\.strftime\([^)]*\)|\.isoformat\(\)|\bUTC\b", text):
            if "%H" in found or "isoformat" in found or found == "UTC":
                offenders.append(f"{template.relative_to(TEMPLATES)}: {found}")
    assert set(offenders) <= NOT_YET, sorted(set(offenders) - NOT_YET)


def test_the_filter_reads_iso_text_and_shows_london_time_in_summer_and_winter():
    assert london("2026-12-07T01:50:34Z") == "7 Dec 2026 01:50"
    assert london(datetime(2026, 7, 7, 1, 50, tzinfo=UTC)) == "7 Jul 2026 02:50"  # BST
    assert london(None) == ""


def test_the_integrity_page_shows_the_signed_head_in_london_time_not_iso(app):
    head = signing.sign_and_publish()
    client = app.test_client()
    sign_in(client, *make_user(make_org(OrgKind.mace_host), Role.dpo))
    page = client.get("/audit/integrity").get_data(as_text=True)
    assert head.timestamp.endswith("Z") and head.timestamp not in page
    assert f"signed {london(head.timestamp)}" in page
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", page)
