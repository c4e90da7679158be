"""Forms for MACE meetings: scheduling, attendance, the agenda, proposals, minutes, risk, updates."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import IntegerField, RadioField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Optional

from hub.forms import DateInputField, TimeInputField, typed_id
from hub.models.mace import Attendance


class MeetingForm(FlaskForm):
    day = DateInputField("Date", validators=[InputRequired("Enter the date of the meeting")])
    time = TimeInputField("Start time", validators=[InputRequired("Enter the time the meeting starts")])
    venue = StringField("Venue", widget=GovTextInput(), description="Where the group meets, or how it meets online")
    submit = SubmitField("Schedule meeting", widget=GovSubmitInput())


def attendance_form(members):
    """A form with one present / apologies / absent question per member (field `member_<user id>`)."""

    class AttendanceForm(FlaskForm):
        submit = SubmitField("Save attendance", widget=GovSubmitInput())

    for member, mark in members:
        setattr(AttendanceForm, f"member_{member.user_id}", RadioField(
            f"{member.user.name}, {member.organisation.name}", widget=GovRadioInput(),
            choices=[(a.value, a.label) for a in Attendance], default=mark.value if mark else None,
            validators=[Optional()]))
    return AttendanceForm()


class NotesForm(FlaskForm):
    notes = TextAreaField("Notes and decisions for the meeting as a whole", widget=GovTextArea())
    next_meeting_on = DateInputField("Next meeting", validators=[Optional()],
                                     description="For example 27 3 2026. Leave empty if not yet agreed")
    submit = SubmitField("Save notes", widget=GovSubmitInput())


class AddItemForm(FlaskForm):
    subject = SelectField("A child, location or person of the group", widget=GovSelect(), validators=[Optional()])
    child_id = IntegerField("Or another child's hub record number", widget=GovTextInput(),
                            validators=[Optional(), typed_id("Enter the child's hub record number, as on their page")],
                            description="A child you may see on the hub who is not yet held by the group")
    submit = SubmitField("Add to agenda", widget=GovSubmitInput())


class ProposalsForm(FlaskForm):
    keys = SelectMultipleField("Proposals", widget=GovCheckboxesInput(), validate_choice=False)
    accept = SubmitField("Add the chosen to the agenda", widget=GovSubmitInput())
    dismiss = SubmitField("Dismiss the chosen", widget=GovSubmitInput())


class MinutesForm(FlaskForm):
    minutes = TextAreaField("Minutes", widget=GovTextArea())
    decisions = TextAreaField("Decisions", widget=GovTextArea())
    submit = SubmitField("Save minutes", widget=GovSubmitInput())


class RiskForm(FlaskForm):
    level = RadioField("Risk level", widget=GovRadioInput(), validate_choice=False,
                       validators=[InputRequired("Choose a risk level")])
    review_on = DateInputField("Review by", validators=[Optional()])
    submit = SubmitField("Set risk level", widget=GovSubmitInput())


class UpdateForm(FlaskForm):
    text = TextAreaField("Your agency's update", widget=GovTextArea())
    submit = SubmitField("Add update", widget=GovSubmitInput())


class HeldForm(FlaskForm):
    submit = SubmitField("Record the meeting as held", widget=GovSubmitInput())
