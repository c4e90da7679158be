"""Forms of the returns, annual report and data-quality pages: a year, asked for in a GET form
(downloading changes nothing, so no CSRF token is needed, and the address can be bookmarked)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextInput
from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired, Regexp


class _YearForm(FlaskForm):
    class Meta:
        csrf = False

    year = StringField(
        "Year", widget=GovTextInput(),
        description="The year ending 31 March: 2026 is 1 April 2025 to 31 March 2026.",
        validators=[InputRequired("Enter a year"),
                    Regexp(r"^\s*\d{4}\s*$", message="Enter the year as 4 digits, like 2026")])

    @property
    def year_number(self) -> int:
        return int(self.year.data.strip())


class ReturnYearForm(_YearForm):
    submit = SubmitField("Download the SSDA903 missing file", widget=GovSubmitInput())


class AnnualForm(_YearForm):
    submit = SubmitField("Download the annual report", widget=GovSubmitInput())
