"""Forms of the police daily download pages: upload, the review of an unmatched row, and a
force's column headings."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from govuk_frontend_wtf.wtforms_widgets import GovFileInput, GovRadioInput, GovSelect, GovSubmitInput, GovTextInput
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, Optional

from hub.forms import DateInputField, record_id, typed_id
from hub.missing.imports.download import COLUMNS
from hub.missing.imports.review import DISMISS_REASONS
from hub.models.people import Gender


class UploadForm(FlaskForm):
    file = FileField("Upload the daily download", widget=GovFileInput(),
                     description="An Excel workbook (.xlsx) in the hub's template, or your force's own headings.",
                     validators=[FileRequired("Select the daily download file"),
                                 FileAllowed(["xlsx"], "The selected file must be an Excel workbook (.xlsx)")])
    submit = SubmitField("Import the download", widget=GovSubmitInput())


class CandidateSearchForm(FlaskForm):
    """A GET search on the review page (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    identifier = StringField("Police id, NHS number, UPN or local authority id", widget=GovTextInput(),
                             validators=[Optional(), Length(max=40)])
    given_name = StringField("Given name", widget=GovTextInput(), validators=[Optional(), Length(max=100)])
    family_name = StringField("Family name", widget=GovTextInput(), validators=[Optional(), Length(max=100)])
    date_of_birth = DateInputField("Date of birth", validators=[Optional()])
    submit = SubmitField("Search", widget=GovSubmitInput())


class _PageForm(FlaskForm):
    """One of several forms on the review page. The app-wide CSRFProtect checks every POST's
    token; the page renders it once per form under the plain name, so no id repeats."""

    class Meta:
        csrf = False


class MatchForm(_PageForm):
    """Chosen from a search; the search goes with it so the service can repeat it."""

    child_id = IntegerField(validators=[InputRequired("Choose a child"), typed_id("Choose a child")])
    identifier = HiddenField()
    given_name = HiddenField()
    family_name = HiddenField()
    date_of_birth = HiddenField()
    submit = SubmitField("This is the child", widget=GovSubmitInput())


class CreateChildForm(_PageForm):
    gender = RadioField("Gender", widget=GovRadioInput(), default=Gender.not_known.value,
                        choices=[(g.value, g.value.replace("_", " ").capitalize()) for g in Gender])
    submit = SubmitField("Create the child and apply the row", widget=GovSubmitInput())


class DismissForm(_PageForm):
    reason = RadioField("Why is the row dismissed?", widget=GovRadioInput(), choices=list(DISMISS_REASONS.items()),
                        validators=[InputRequired("Choose why the row is dismissed")])
    submit = SubmitField("Dismiss the row", widget=GovSubmitInput())


class ForceChoiceForm(FlaskForm):
    class Meta:
        csrf = False

    force = SelectField("Police force", widget=GovSelect(), coerce=record_id, validate_choice=False)
    submit = SubmitField("Show its headings", widget=GovSubmitInput())


def mapping_form_class() -> type[FlaskForm]:
    """One text field per column of the download, named after the field."""

    class MappingForm(FlaskForm):
        submit = SubmitField("Save the headings", widget=GovSubmitInput())

    for column in COLUMNS:
        hint = "Required." if column.required else "Leave empty if your export does not have this column."
        setattr(MappingForm, column.field, StringField(
            column.heading, widget=GovTextInput(), description=f"{hint} Template heading: {column.heading}",
            validators=[Length(max=100)]))
    return MappingForm


MappingForm = mapping_form_class()
