"""The development mail catcher (`make run`): the demo's e-mails, sent by the real delivery worker
over SMTP, readable on a loopback page; never in production."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import pytest

from hub import db
from hub.devmail import CatcherRefused, refuse_production, serve
from hub.models.notifications import OutboxMessage
from hub.notifications import delivery


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a loopback test server
        return response.read().decode("utf-8")


def test_the_mail_catcher_receives_a_demo_e_mail_over_smtp_and_shows_it_on_its_page(app):
    with db.unit_of_work() as s:
        s.add(OutboxMessage(to_address="dsl@school.example.test", subject="A child from your school is missing",
                            body="Read it at http://127.0.0.1:5050/notifications/7 <now> & act."))
    with serve(0, 0) as catcher:
        settings = delivery.SmtpSettings(host="127.0.0.1", port=catcher.smtp_port, timeout=5)
        assert delivery.deliver_all(settings, "worker-1").sent == 1
        listing = _get(f"http://127.0.0.1:{catcher.http_port}/")
        assert "A child from your school is missing" in listing and "dsl@school.example.test" in listing
        page = _get(f"http://127.0.0.1:{catcher.http_port}/messages/1")
    assert '<a href="http://127.0.0.1:5050/notifications/7">' in page  # the link follows the port
    assert "&lt;now&gt; &amp; act." in page  # the body is escaped, never markup
    with pytest.raises(urllib.error.URLError):
        _get(f"http://127.0.0.1:{catcher.http_port}/")  # stopped with the block


def test_production_refuses_to_start_the_mail_catcher(monkeypatch):
    with pytest.raises(CatcherRefused):
        refuse_production({"HUB_ENV": "production"})
    refuse_production({"HUB_ENV": "development"})
    monkeypatch.setenv("HUB_ENV", "production")
    with pytest.raises(CatcherRefused), serve(0, 0):
        pass
    result = subprocess.run([sys.executable, "-m", "hub.devmail", "--smtp-port", "0", "--http-port", "0"],
                            capture_output=True, text=True, timeout=30, env={"HUB_ENV": "production", "PATH": ""})
    assert result.returncode == 2 and "refuses to start with HUB_ENV=production" in result.stderr
