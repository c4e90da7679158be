"""Driving a page in the browser journeys (tests/e2e): signing in, and axe-core's verdict on it."""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import pytest

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
#: What fails a page: any serious or critical finding, and content outside a landmark.
AXE_FAILS_IMPACT = {"serious", "critical"}
AXE_FAILS_RULE = {"region"}


def signed_in_page(browser, base_url: str, who: tuple, password: str):
    """A new page signed in as `who` (user, TOTP secret), collecting console errors: a
    Content-Security-Policy violation (an inline style or script) is one."""
    user, secret = who
    page = browser.new_page()
    page.set_default_timeout(15_000)
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    sign_in(page, base_url, user.email, password, secret)
    return page


def sign_in(page, base_url: str, email: str, password: str, secret: str) -> None:
    page.goto(f"{base_url}/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Security code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()


def assert_accessible(page) -> None:
    """Run axe-core (package.json devDependency) on the page as it stands, and fail on any
    serious or critical violation and on `region` (content outside a landmark).

    page.evaluate runs through the DevTools protocol, which the page's Content-Security-Policy
    does not govern, so axe is loaded without weakening the CSP the page is tested under."""
    if not AXE.exists():
        pytest.fail("node_modules/axe-core is missing: run npm install (make setup)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    failing = [v for v in results["violations"] if v["impact"] in AXE_FAILS_IMPACT or v["id"] in AXE_FAILS_RULE]
    report = [{"rule": v["id"], "impact": v["impact"], "help": v["help"],
               "where": [n["target"] for n in v["nodes"]][:5]} for v in failing]
    assert not failing, f"accessibility violations on {page.url}:\n{json.dumps(report, indent=1)}"
