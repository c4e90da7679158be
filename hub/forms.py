"""Form fields shared by every package."""

from __future__ import annotations

from govuk_frontend_wtf.wtforms_widgets import GovDateInput
from wtforms import DateField


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
