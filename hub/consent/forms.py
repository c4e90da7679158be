"""Forms for recording consent and its withdrawal."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import RadioField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from hub.forms import DateInputField, record_id
from hub.models.sharing import Category


class ConsentForm(FlaskForm):
    given_by = RadioField("Who gave or refused consent?", widget=GovRadioInput(), choices=[
        ("child", "The child"), ("parental_responsibility", "A person with parental responsibility")],
        validators=[InputRequired("Choose who gave or refused consent")])
    giver_description = StringField("Their relationship to the child", widget=GovTextInput(),
                                    description="For example: the child, mother, special guardian",
                                    validators=[InputRequired("Say who, by their relationship to the child"),
                                                Length(max=100)])
    child_competent = RadioField("If the child decided: are they competent to decide?", widget=GovRadioInput(),
                                 choices=[("yes", "Yes"), ("no", "No")], validate_choice=False)
    competence_note = TextAreaField("How you judged their competence", widget=GovTextArea(),
                                    validators=[Optional(), Length(max=2000)])
    given = RadioField("Decision", widget=GovRadioInput(), choices=[("yes", "Consent given"), ("no", "Refused")],
                       validators=[InputRequired("Say whether consent was given or refused")])
    purposes = SelectMultipleField("What it covers", widget=GovCheckboxesInput(),
                                   choices=[(c.value, c.label) for c in Category])
    recipient_org_ids = SelectMultipleField("Who it covers", widget=GovCheckboxesInput(), coerce=record_id)
    obtained_on = DateInputField("When", validators=[InputRequired("Enter when consent was given or refused")])
    valid_until = DateInputField("Until (optional)", validators=[Optional()])
    submit = SubmitField("Record consent", widget=GovSubmitInput())


class WithdrawForm(FlaskForm):
    reason = StringField("How and why was consent withdrawn?", widget=GovTextInput(),
                         validators=[InputRequired("Record how and why consent was withdrawn"), Length(max=500)])
    submit = SubmitField("Withdraw consent", widget=GovSubmitInput())
