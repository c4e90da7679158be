"""Forms for MACE actions (and disruption activity) and each agency's outcomes."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Optional

from hub.forms import DateInputField, record_id, typed_id
from hub.models.mace import ActionKind, ActionStatus, DisruptionKind


class ActionForm(FlaskForm):
    item_id = SelectField("Agenda item", widget=GovSelect(), coerce=record_id, default=0)
    description = TextAreaField("What is to be done", widget=GovTextArea())
    owner_organisation_id = SelectField("Owner agency", widget=GovSelect(), coerce=record_id, default=0)
    owner_user_id = SelectField("Owner (optional)", widget=GovSelect(), coerce=record_id, default=0,
                                description="A current member of the group for that agency")
    due_on = DateInputField("Due by", description="For example, 27 3 2027")
    kind = RadioField("Kind of action", widget=GovRadioInput(), default=ActionKind.task.value,
                      choices=[(ActionKind.task.value, "Task"), (ActionKind.disruption.value, "Disruption activity")])
    disruption_kind = RadioField("Kind of disruption", widget=GovRadioInput(), validate_choice=False,
                                 choices=[(k.value, k.label) for k in DisruptionKind])
    person_id = SelectField("Person warned", widget=GovSelect(), coerce=record_id, default=0)
    child_id = SelectField("Child the notice protects", widget=GovSelect(), coerce=record_id, default=0)
    served_on = DateInputField("Date served")
    serving_officer = StringField("Serving officer", widget=GovTextInput())
    review_on = DateInputField("Review date")
    submit = SubmitField("Add action", widget=GovSubmitInput())


class StatusForm(FlaskForm):
    status = RadioField("Status", widget=GovRadioInput(), validate_choice=False,
                        choices=[(s.value, s.label) for s in ActionStatus])
    note = TextAreaField("Note", widget=GovTextArea())
    submit = SubmitField("Update action", widget=GovSubmitInput())


class BreachForm(FlaskForm):
    breach_note = TextAreaField("What happened (optional)", widget=GovTextArea())
    submit = SubmitField("Record a breach", widget=GovSubmitInput())


class OutcomeForm(FlaskForm):
    organisation_id = IntegerField(widget=HiddenField.widget, validators=[Optional(), typed_id("Send the form again")])
    child_id = IntegerField(widget=HiddenField.widget, validators=[Optional(), typed_id("Send the form again")])
    outcome = TextAreaField("Your agency's outcome", widget=GovTextArea())
    system_name = StringField("Your agency's system", widget=GovTextInput(),
                              description="For example the health record system, the police records system, "
                                          "the social care case system or the school's safeguarding system")
    system_reference = StringField("Reference of the record on that system", widget=GovTextInput())
    submit = SubmitField("Confirm it is on our system", widget=GovSubmitInput())
