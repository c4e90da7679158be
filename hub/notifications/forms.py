"""The key adult's forms on a notification: the acknowledgement, and the two replies to the police."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from hub.forms import DateInputField, TimeInputField, record_id
from hub.models.notifications import ClosureKind
from hub.notifications.inbox import ACTION_MAX
from hub.notifications.replies import REPLY_TEXT_MAX


class AcknowledgeForm(FlaskForm):
    school_action = TextAreaField(
        "What did the school do? (optional)", widget=GovTextArea(),
        description="For example: the child is in school today; welfare check made; parents or carers contacted",
        validators=[Optional(), Length(max=ACTION_MAX)])
    submit = SubmitField("Acknowledge", widget=GovSubmitInput())


def _authoriser_field() -> SelectField:
    # Shown only to a key adult who may not authorise sharing without consent themselves (a deputy).
    return SelectField("Who authorised telling the police?", widget=GovSelect(), coerce=record_id,
                       validate_choice=False,
                       description="Your designated safeguarding lead: the register records who authorised "
                                   "sharing without consent")


class SeenAtSchoolForm(FlaskForm):
    """"The child is at school now": prefix "seen" keeps its fields apart from the other forms."""

    seen_on = DateInputField("Date seen", validators=[InputRequired("Enter the date the child was seen at school")])
    seen_time = TimeInputField("Time seen", validators=[InputRequired("Enter the time the child was seen")])
    note = TextAreaField("Anything the police should know (optional)", widget=GovTextArea(),
                         description="For example: who brought them, how they seem",
                         validators=[Optional(), Length(max=REPLY_TEXT_MAX)])
    authorised_by_user_id = _authoriser_field()
    submit = SubmitField("Tell the police the child is at school", widget=GovSubmitInput())


class PassOnInformationForm(FlaskForm):
    information = TextAreaField(
        "What may help find them", widget=GovTextArea(),
        description="Friends, places they go, habits, phone or social media the school knows of",
        validators=[InputRequired("Write what may help find the child"), Length(max=REPLY_TEXT_MAX)])
    authorised_by_user_id = _authoriser_field()
    submit = SubmitField("Pass this on to the police", widget=GovSubmitInput())


class ClosureForm(FlaskForm):
    """A closure (holiday or INSET day) for a school or every school of an authority."""

    organisation_id = SelectField("School or authority", widget=GovSelect(), coerce=record_id, validate_choice=False,
                                  description="A closure set for an authority applies to each of its schools")
    kind = SelectField("Kind of closure", widget=GovSelect(),
                       choices=[(ClosureKind.inset.value, "INSET (training) day"),
                                (ClosureKind.holiday.value, "School holiday")])
    first_day = DateInputField("First day closed", validators=[InputRequired("Enter the first day closed")],
                               description="For example, 27 10 2026")
    last_day = DateInputField("Last day closed", validators=[InputRequired("Enter the last day closed")],
                              description="The same as the first day for a single day")
    description = StringField("Description (optional)", widget=GovTextInput(),
                              description="For example: autumn half term", validators=[Optional(), Length(max=200)])
    submit = SubmitField("Add closure", widget=GovSubmitInput())


class SchoolDayStartForm(FlaskForm):
    school_day_start = StringField("School day starts at", widget=GovTextInput(),
                                   description="24-hour time, like 08:30. Leave empty for the default, 08:30",
                                   validators=[Optional(), Length(max=5)])
    submit = SubmitField("Save start time", widget=GovSubmitInput())
