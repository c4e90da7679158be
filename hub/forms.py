"""Form fields shared by every package."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from govuk_frontend_wtf.wtforms_widgets import GovDateInput, GovTextInput
from wtforms import DateField, StringField
from wtforms.validators import NumberRange

LONDON = ZoneInfo("Europe/London")
#: The largest record number the hub's tables hold (PostgreSQL's integer). A larger one in a form
#: names no record, and the database refuses to look it up at all (a 500 before this check).
MAX_ID = 2**31 - 1
ID_MESSAGE = "Choose from the list"


def record_id(value) -> int:
    """The `coerce` of every field choosing a record by its number: a whole number from 0 (the
    "none chosen" of a list) to MAX_ID, else the field is in error and the form refused."""
    number = int(value)
    if not 0 <= number <= MAX_ID:
        raise ValueError(ID_MESSAGE)
    return number


def typed_id(message: str):
    """The validator of a field where a person types a record's number: from 1 to MAX_ID."""
    return NumberRange(min=1, max=MAX_ID, message=message)


class DateInputField(DateField):
    """A GOV.UK date input (day, month, year boxes) that reads '27 3 2012' and shows a clear
    error for an impossible date, and renders even when the form was sent without it."""

    widget = GovDateInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("format", "%d %m %Y")
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not any(v.strip() for v in valuelist):
            self.raw_data = None  # the widget unpacks three values or none
            self.data = None
            return
        if len(valuelist) != 3:
            self.raw_data = None
            self.data = None
            raise ValueError("Enter the date as a day, month and year")
        try:
            super().process_formdata([" ".join(v.strip() for v in valuelist)])
        except ValueError as exc:
            raise ValueError("Enter a real date, for example 27 3 2012") from exc
        if self.data is None:
            raise ValueError("Enter a real date, for example 27 3 2012")

    def pre_validate(self, form):
        pass


class TimeInputField(StringField):
    """A time of day typed as 24-hour HH:MM (Europe/London, as people read their clocks)."""

    widget = GovTextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("description", "24-hour clock, for example 18:45")
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        text = (self.data or "").strip().replace(".", ":")
        if not text:
            self.data = None
            return
        match = re.fullmatch(r"([01]?\d|2[0-3]):?([0-5]\d)", text)
        if not match:
            self.data = None
            raise ValueError("Enter a time as hours and minutes on the 24-hour clock, for example 18:45")
        self.data = f"{int(match.group(1)):02d}:{match.group(2)}"

    def _value(self):
        return self.data or ""


def london_to_utc(day: date | None, hhmm: str | None) -> datetime | None:
    """A date and HH:MM read as Europe/London wall-clock time, as aware UTC (None if no date)."""
    if day is None:
        return None
    hours, minutes = (hhmm or "00:00").split(":")
    return datetime.combine(day, time(int(hours), int(minutes)), tzinfo=LONDON).astimezone(UTC)


def utc_to_london(moment: datetime | None) -> tuple[date | None, str | None]:
    """The inverse of london_to_utc, to fill a form from a stored time."""
    if moment is None:
        return None, None
    local = moment.astimezone(LONDON)
    return local.date(), f"{local:%H:%M}"
