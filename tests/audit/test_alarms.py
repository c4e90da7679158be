"""The audit log's alarms never break their caller (issue 24, "every rule executed"): an unknown
kind is a programming error and says so, but an alarm that cannot be stored or e-mailed, or
cleared, is logged and the caller goes on."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from hub.audit import alarms


def test_an_unknown_kind_of_alarm_is_refused():
    with pytest.raises(ValueError, match="unknown alarm kind"):
        alarms.raise_alarm("log-fine", "nothing wrong")


def test_an_alarm_that_could_tell_nobody_is_logged_and_not_left_half_stored(app, monkeypatch, caplog):
    monkeypatch.setattr(alarms, "_mailer", [])
    monkeypatch.setattr(alarms, "_emailed", {})
    with caplog.at_level(logging.ERROR, logger="hub.audit.alarms"):
        alarms.raise_alarm("integrator-late", "12 entries waiting")  # does not raise
    assert "could not record the audit alarm integrator-late" in caplog.text
    assert "mailer is not set up" in caplog.text
    assert not alarms.is_open("integrator-late")


def test_an_alarm_counts_again_and_clears(app, monkeypatch):
    monkeypatch.setattr(alarms, "_emailed", {})
    sent = []
    monkeypatch.setattr(alarms, "_mailer", [lambda kind, subject: sent.append(kind)])
    alarms.raise_alarm("witness-unreachable", "no answer", subject="police")
    alarms.raise_alarm("witness-unreachable", "no answer again", subject="police")
    (alarm,) = alarms.open_alarms()
    assert (alarm.count, alarm.message, sent) == (2, "no answer again", ["witness-unreachable"])  # one e-mail a day
    alarms.clear("witness-unreachable", subject="police")
    assert not alarms.is_open("witness-unreachable", subject="police")


def test_an_alarm_that_cannot_be_cleared_is_logged_and_the_caller_goes_on(app, monkeypatch, caplog):
    def broken():
        raise OperationalError("UPDATE audit_alarm", {}, Exception("database is locked"))

    monkeypatch.setattr(alarms, "unit_of_work", broken)
    with caplog.at_level(logging.ERROR, logger="hub.audit.alarms"):
        alarms.clear("duty-failed", subject="deliver")
    assert "could not clear the audit alarm duty-failed" in caplog.text
