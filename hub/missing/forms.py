"""Forms for recording and progressing a missing episode, and for the Philomena profile.
Dates are GOV.UK date inputs with a separate HH:MM time, read as Europe/London."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovFileInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from hub.forms import DateInputField, TimeInputField, record_id
from hub.missing import rules
from hub.missing.profiles.service import PROFILE_FIELDS, PROFILE_HINTS, PROFILE_TEXT_MAX
from hub.models.missing import Classification, MissingFrom, RiskGrade


def _choices(enum_class):
    return [(e.value, e.label) for e in enum_class]


class EpisodeForm(FlaskForm):
    police_reference = StringField("Police reference of the missing report", widget=GovTextInput(),
                                   validators=[InputRequired("Enter the police reference"), Length(max=40)])
    police_org_id = SelectField("Police force that holds the report", widget=GovSelect(), coerce=record_id,
                                validate_choice=False)
    reported_on = DateInputField("Date reported missing", validators=[InputRequired("Enter the date reported missing")])
    reported_time = TimeInputField("Time reported missing",
                                   validators=[InputRequired("Enter the time reported missing")])
    classification = RadioField(
        "Missing or absent?", widget=GovRadioInput(), choices=_choices(Classification), default="missing",
        description="Missing: whereabouts cannot be established and it is out of character or there is a risk of "
                    "harm. Absent: not where they are expected or required to be.")
    risk_grade = RadioField("Risk grade", widget=GovRadioInput(), choices=_choices(RiskGrade), default="medium")
    missing_from = RadioField("Missing from", widget=GovRadioInput(), choices=_choices(MissingFrom), default="home")
    missing_from_detail = StringField("Where exactly (optional)", widget=GovTextInput(),
                                      validators=[Optional(), Length(max=300)])
    submit = SubmitField("Record the episode", widget=GovSubmitInput())


def _factor_field(label: str, factors: dict[str, str]) -> SelectMultipleField:
    return SelectMultipleField(label, widget=GovCheckboxesInput(), choices=list(factors.items()))


class ProgressForm(FlaskForm):
    """Everything that happens after the report, in the order it happens."""

    risk_grade = RadioField("Risk grade", widget=GovRadioInput(), choices=_choices(RiskGrade))
    classification = RadioField("Missing or absent?", widget=GovRadioInput(), choices=_choices(Classification))
    found_on = DateInputField("Date found or returned", validators=[Optional()])
    found_time = TimeInputField("Time found or returned", validators=[Optional()])
    found_where = StringField("Where found", widget=GovTextInput(), validators=[Optional(), Length(max=300)])
    receiving_authority_id = SelectField("Receiving authority (where found, when it is another area)",
                                         widget=GovSelect(), coerce=record_id, validate_choice=False)
    home_authority_id = SelectField("Home authority", widget=GovSelect(), coerce=record_id, validate_choice=False)
    prevention_check_on = DateInputField("Date of the police prevention (safe and well) check",
                                         validators=[Optional()])
    prevention_check_time = TimeInputField("Time of the check", validators=[Optional()])
    prevention_check_by = StringField("Check done by (name or collar number)", widget=GovTextInput(),
                                      validators=[Optional(), Length(max=200)])
    return_interview_offered_on = DateInputField("Date the return home interview was offered",
                                                 validators=[Optional()])
    return_interview_offered_time = TimeInputField("Time offered", validators=[Optional()])
    return_interview_declined = BooleanField("The child declined the interview", widget=GovCheckboxInput())
    return_interview_on = DateInputField("Date the return home interview was done", validators=[Optional()])
    return_interview_time = TimeInputField("Time of the interview", validators=[Optional()])
    return_interview_by = StringField("Interview done by (not the child's direct carer)", widget=GovTextInput(),
                                      validators=[Optional(), Length(max=200)])
    return_interview_share_id = SelectField("Findings (recorded as a share)", widget=GovSelect(), coerce=record_id,
                                            validate_choice=False)
    iro_informed_on = DateInputField("Date the Independent Reviewing Officer was told", validators=[Optional()])
    iro_informed_time = TimeInputField("Time the IRO was told", validators=[Optional()])
    strategy_discussion_on = DateInputField("Date of the strategy discussion", validators=[Optional()])
    strategy_discussion_time = TimeInputField("Time of the strategy discussion", validators=[Optional()])
    trigger_plan_on = DateInputField("Date the trigger plan was on file", validators=[Optional()])
    trigger_plan_time = TimeInputField("Time the trigger plan was on file", validators=[Optional()])
    police_requested_meeting = BooleanField("The police asked for a missing management meeting",
                                            widget=GovCheckboxInput())
    risk_factors = _factor_field("Risk factors", rules.RISK_FACTORS)
    push_factors = _factor_field("Push factors", rules.PUSH_FACTORS)
    pull_factors = _factor_field("Pull factors", rules.PULL_FACTORS)
    submit = SubmitField("Save changes", widget=GovSubmitInput())


#: (date field, time field) -> the episode attribute they set.
TIMES = {
    "found_at": ("found_on", "found_time"),
    "prevention_check_at": ("prevention_check_on", "prevention_check_time"),
    "return_interview_offered_at": ("return_interview_offered_on", "return_interview_offered_time"),
    "return_interview_at": ("return_interview_on", "return_interview_time"),
    "iro_informed_at": ("iro_informed_on", "iro_informed_time"),
    "strategy_discussion_at": ("strategy_discussion_on", "strategy_discussion_time"),
    "trigger_plan_at": ("trigger_plan_on", "trigger_plan_time"),
}


class ProfileForm(FlaskForm):
    """The protocol's form: part 1 (with the photo) kept ahead, part 2 when the child goes missing."""

    photo = FileField("Photo", widget=GovFileInput(),
                      description="A recent, clear photo of the child's face: JPEG or PNG, smaller than 5 MB. "
                                  "It is stored without its location and camera details.")
    remove_photo = BooleanField("Remove the photo kept now", widget=GovCheckboxInput())
    submit = SubmitField("Save the profile", widget=GovSubmitInput())


for _name, _label in PROFILE_FIELDS.items():
    setattr(ProfileForm, _name, TextAreaField(_label, widget=GovTextArea(), description=PROFILE_HINTS[_name],
                                              validators=[Optional(), Length(max=PROFILE_TEXT_MAX)]))


class ReleaseForm(FlaskForm):
    submit = SubmitField("Release the profile to the police", widget=GovSubmitInput())
