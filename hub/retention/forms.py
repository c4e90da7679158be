"""Forms for the retention pages: a schedule's period, a review decision, a legal hold."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import IntegerField, RadioField, SelectField, SelectMultipleField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from hub.forms import DateInputField, record_id, typed_id
from hub.models.retention import HoldKind
from hub.retention.rules import DEFAULTS
from hub.retention.service import REASON_MAX


class PeriodForm(FlaskForm):
    period = IntegerField("Period", widget=GovTextInput(),
                          validators=[InputRequired("Enter the period as a whole number"), NumberRange(min=1)])
    reason = TextAreaField("Why your organisation keeps them for this period", widget=GovTextArea(),
                           description="For example, your records schedule's reference",
                           validators=[InputRequired("Say why"), Length(max=REASON_MAX)])
    submit = SubmitField("Save the period", widget=GovSubmitInput())


class KeepForm(FlaskForm):
    until = DateInputField("Keep until (the next review)", validators=[InputRequired("Enter the next review date")])
    reason = TextAreaField("Why it is kept", widget=GovTextArea(),
                           validators=[InputRequired("Say why the record is kept"), Length(max=REASON_MAX)])
    submit = SubmitField("Keep the record", widget=GovSubmitInput())


class ApproveForm(FlaskForm):
    """Checkboxes beside each record due on the queue."""

    record_id = SelectMultipleField("Records", coerce=record_id, validate_choice=False)
    submit = SubmitField("Approve destruction of the selected records", widget=GovSubmitInput())


class HoldForm(FlaskForm):
    kind = RadioField("What the hold is for", widget=GovRadioInput(), choices=[(k.value, k.label) for k in HoldKind],
                      validators=[InputRequired("Choose what the hold is for")])
    child_id = IntegerField("The child's hub number (optional)", widget=GovTextInput(),
                            description="Leave empty to hold records about every child",
                            validators=[Optional(), typed_id("Enter the child's hub number, as on their page")])
    record_class = SelectField("Which records", widget=GovSelect(), validators=[Optional()],
                               choices=[("", "Every class")] + [(c.value, d.label) for c, d in DEFAULTS.items()])
    reason = TextAreaField("The inquiry, claim or request, and its reference", widget=GovTextArea(),
                           validators=[InputRequired("Say what the hold is for"), Length(max=REASON_MAX)])
    submit = SubmitField("Set the hold", widget=GovSubmitInput())


class LiftForm(FlaskForm):
    reason = TextAreaField("Why the hold is lifted", widget=GovTextArea(),
                           validators=[InputRequired("Say why the hold is lifted"), Length(max=REASON_MAX)])
    submit = SubmitField("Lift the hold", widget=GovSubmitInput())
