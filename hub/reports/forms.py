"""The reports' forms, all sent with GET (they change nothing, so no CSRF token is needed, and a page
can be bookmarked): the filters, and the year of a return or of the annual report."""

from __future__ import annotations

from datetime import date, timedelta

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovSubmitInput, GovTextInput
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Optional, Regexp, ValidationError

from hub.forms import DateInputField
from hub.reports.query import AGE_BANDS, ReportFilters
from hub.reports.service import FilterOptions

#: The longest period one page counts (the annual report covers a year; five allow trends).
LONGEST = timedelta(days=5 * 366)
LOOKED_AFTER = {"": None, "yes": True, "no": False}


def default_period(today: date) -> tuple[date, date]:
    """The last twelve months: from the first day of the month eleven months ago to today."""
    year, month = (today.year, today.month - 11) if today.month > 11 else (today.year - 1, today.month + 1)
    return date(year, month, 1), today


class ReportFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    date_from = DateInputField("From", validators=[Optional()], description="For example, 1 4 2026")
    date_to = DateInputField("To", validators=[Optional()], description="For example, 31 3 2027")
    authority = SelectField("Local authority", widget=GovSelect(), validators=[Optional()])
    age_band = SelectField("Age when the episode started", widget=GovSelect(), validators=[Optional()],
                           choices=[("", "All ages")] + [(code, label) for code, (label, *_r) in AGE_BANDS.items()])
    looked_after = SelectField("Looked after", widget=GovSelect(), validators=[Optional()],
                               choices=[("", "All children"), ("yes", "Looked-after children"),
                                        ("no", "Children not looked after")])
    school = SelectField("School", widget=GovSelect(), validators=[Optional()])
    submit = SubmitField("Apply filters", widget=GovSubmitInput())

    def with_options(self, options: FilterOptions) -> ReportFilterForm:
        self.authority.choices = [("", "All authorities")] + [(str(i), name) for i, name in options.authorities]
        self.school.choices = [("", "All schools")] + [(str(i), name) for i, name in options.schools]
        return self

    def validate_date_to(self, field) -> None:
        if self.date_from.data and field.data:
            if field.data < self.date_from.data:
                raise ValidationError("The end date must be on or after the start date")
            if field.data - self.date_from.data > LONGEST:
                raise ValidationError("Choose a period of five years or less")

    def filters(self, today: date) -> ReportFilters:
        """The filters the form asks for (call after validate); defaults for anything left empty."""
        first, last = default_period(today)
        date_from = self.date_from.data or first
        return ReportFilters(
            date_from=date_from, date_to=self.date_to.data or max(last, date_from),
            authority_id=int(self.authority.data) if self.authority.data else None,
            age_band=self.age_band.data or None,
            looked_after=LOOKED_AFTER.get(self.looked_after.data or ""),
            school_id=int(self.school.data) if self.school.data else None)


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
