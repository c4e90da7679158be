"""Forms for finding children and managing their records."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from hub.forms import DateInputField, record_id
from hub.models.people import BREAK_GLASS_REASON_MIN, BREAK_GLASS_REASON_TOO_SHORT, BreakGlassCategory, Gender
from hub.people import search


class ChildSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    name = StringField("Name, date of birth or identifier", widget=GovTextInput(),
                       validators=[Optional(), Length(max=100)],
                       description="The start of a first or last name (2 letters or more), a name as it sounds, "
                                   "a date of birth such as 27/3/2012, or an NHS number or police id")
    date_of_birth = DateInputField("Date of birth", validators=[Optional()],
                              description="For example, 27 3 2012")
    identifier = StringField("NHS number, pupil number, LA id or police id", widget=GovTextInput(),
                             validators=[Optional(), Length(max=30)])
    submit = SubmitField("Search", widget=GovSubmitInput())

    def validate_name(self, field):
        if search.parse(field.data or "").too_short:
            raise ValidationError("Enter at least 2 letters of a name")


class ChildForm(FlaskForm):
    given_name = StringField("First name", widget=GovTextInput(),
                             validators=[InputRequired("Enter the child's first name"), Length(max=100)])
    family_name = StringField("Last name", widget=GovTextInput(),
                              validators=[InputRequired("Enter the child's last name"), Length(max=100)])
    date_of_birth = DateInputField("Date of birth", description="For example, 27 3 2012",
                              validators=[InputRequired("Enter the child's date of birth as day, month and year")])
    gender = RadioField("Gender", widget=GovRadioInput(), choices=[
        (Gender.female.value, "Female"), (Gender.male.value, "Male"),
        (Gender.other.value, "Other"), (Gender.not_known.value, "Not known")],
        validators=[InputRequired("Choose the child's gender, or not known")])
    nhs_number = StringField("NHS number (optional)", widget=GovTextInput(), validators=[Optional(), Length(max=20)])
    upn = StringField("Unique pupil number (optional)", widget=GovTextInput(), validators=[Optional(), Length(max=20)])
    la_id = StringField("Local authority id (optional)", widget=GovTextInput(), validators=[Optional(), Length(max=30)])
    police_id = StringField("Police id (optional)", widget=GovTextInput(), validators=[Optional(), Length(max=30)])
    looked_after = BooleanField("The child is looked after", widget=GovCheckboxInput())
    responsible_authority_id = SelectField("Home (responsible) authority", widget=GovSelect(), coerce=record_id,
                                           validators=[Optional()])
    placing_authority_id = SelectField("Placing authority, if placed from another area", widget=GovSelect(),
                                       coerce=record_id, validators=[Optional()])
    submit = SubmitField("Save child", widget=GovSubmitInput())


class EnrolmentForm(FlaskForm):
    school_id = SelectField("School", widget=GovSelect(), coerce=record_id,
                            validators=[InputRequired("Choose a school")])
    start_date = DateInputField("Date the child joined the roll",
                           validators=[InputRequired("Enter the start date as day, month and year")])
    submit = SubmitField("Add enrolment", widget=GovSubmitInput())


class BreakGlassForm(FlaskForm):
    category = RadioField(
        "What kind of emergency is it?", widget=GovRadioInput(),
        choices=[(c.value, c.label) for c in BreakGlassCategory],
        validators=[InputRequired("Choose what kind of emergency this is")])
    reason = TextAreaField(
        "Why do you need this record now?", widget=GovTextArea(),
        description="For example: the child has been found injured and you need their health needs. "
                    "Your reason, your name and every page you see are shown to the data protection officer.",
        validators=[InputRequired("Say why you need this record now"),
                    Length(min=BREAK_GLASS_REASON_MIN, message=BREAK_GLASS_REASON_TOO_SHORT),
                    Length(max=1000)])
    submit = SubmitField("See the record in an emergency", widget=GovSubmitInput())
