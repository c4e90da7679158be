"""Browser journeys: the hub served for real on loopback, driven in Debian's headless Chromium
by Playwright (never a downloaded browser)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
#: What fails a page: any serious or critical finding, and content outside a landmark.
AXE_FAILS_IMPACT = {"serious", "critical"}
AXE_FAILS_RULE = {"region"}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app):
    """The app on a free loopback port, in a thread, for the length of one test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    yield page
    context.close()


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
    import pyotp

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
