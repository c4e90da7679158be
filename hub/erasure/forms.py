"""Forms for the erasure pages: a request, an agency's decision, the reply sent."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import IntegerField, RadioField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from hub.erasure.service import REASON_MAX, TEXT_MAX
from hub.forms import DateInputField, typed_id
from hub.models.erasure import Outcome


class RequestForm(FlaskForm):
    child_id = IntegerField("The child's hub number", widget=GovTextInput(),
                            description="On the child's page and their subject access pack",
                            validators=[Optional(), typed_id("Enter the child's hub number, as on their page")])
    person_id = IntegerField("Or: the MACE person of concern's number", widget=GovTextInput(),
                             description="For a request about an adult a MACE group holds as a person of concern "
                                         "(the group's chair can give you the number)",
                             validators=[Optional(), typed_id("Enter the person's number, as the chair gives it")])
    received_on = DateInputField("Received on", validators=[InputRequired("Enter the day the request was received")])
    requester = TextAreaField("Who asked", widget=GovTextArea(), description="By relationship: the young person, "
                              "her mother", validators=[InputRequired("Say who asked"), Length(max=200)])
    request_text = TextAreaField("What they asked to be erased", widget=GovTextArea(),
                                 validators=[InputRequired("Say what they asked"), Length(max=TEXT_MAX)])
    submit = SubmitField("Record the request", widget=GovSubmitInput())


class DecisionForm(FlaskForm):
    outcome = RadioField("Your organisation's decision", widget=GovRadioInput(),
                         choices=[(o.value, o.label) for o in Outcome], validators=[Optional()])
    reason = TextAreaField("Why", widget=GovTextArea(),
                           description="Told to the requester in the reply: the duty, the claim or the law",
                           validators=[Optional(), Length(max=REASON_MAX)])
    submit = SubmitField("Record the decision", widget=GovSubmitInput())


class AnswerForm(FlaskForm):
    submit = SubmitField("Record that the reply was sent", widget=GovSubmitInput())
