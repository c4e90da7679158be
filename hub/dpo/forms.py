"""Forms for the data protection officer's pages."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import IntegerField, RadioField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from hub.forms import DateInputField, record_id, typed_id

ACTIONS = ["", "read", "create", "update", "share", "export", "import", "sign-in", "sign-out", "verify"]


class AuditSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    # People and children are found by what a DPO knows of them, as everyone searches: the ids stay
    # hidden, carried by the links of the DPO's pages (flags, "older events", downloads).
    child = StringField("Child", widget=GovTextInput(), validators=[Optional(), Length(max=100)],
                        description="Part of a name, a name as it sounds, a date of birth such as 27/3/2012, "
                                    "or an NHS number or police id")
    person = StringField("Person", widget=GovTextInput(), validators=[Optional(), Length(max=254)],
                         description="Part of their name, or their e-mail address")
    child_id = IntegerField(widget=HiddenInput(), validators=[Optional(), typed_id("Search again from a child's page")])
    user_id = IntegerField(widget=HiddenInput(), validators=[Optional(), typed_id("Search again from a user's page")])
    organisation_id = SelectField("Organisation", widget=GovSelect(), coerce=record_id, validators=[Optional()])
    # validate_choice off: an absent value means "any"; the service only ever compares it.
    action = SelectField("Action", widget=GovSelect(), choices=[(a, a or "Any") for a in ACTIONS],
                         validate_choice=False, default="")
    outcome = SelectField("Outcome", widget=GovSelect(), validate_choice=False, default="",
                          choices=[("", "Any"), ("done", "Done"), ("refused", "Refused")])
    # No Optional(): the field itself leaves an empty date as None, and Optional() would also
    # clear the "Enter the date as a day, month and year" error of a part-filled date.
    date_from = DateInputField("From")
    date_to = DateInputField("To")
    submit = SubmitField("Filter", widget=GovSubmitInput())


class CloseFlagsForm(FlaskForm):
    """Checkboxes beside each flag on the page, and one note for all of them."""

    flag_id = SelectMultipleField("Flags", coerce=record_id, validate_choice=False)
    note = TextAreaField("What you found", widget=GovTextArea(),
                         validators=[InputRequired("Write what you found and why the flags can be closed"),
                                     Length(max=2000)])
    submit = SubmitField("Close the selected flags", widget=GovSubmitInput())


class VerifyForm(FlaskForm):
    kind = RadioField("What to check", widget=GovRadioInput(), default="full",
                      choices=[("full", "Every entry from the start (the full check)"),
                               ("incremental", "Only what is new since the last check (quicker, misses edits "
                                               "to old entries' columns)")])
    submit = SubmitField("Verify now", widget=GovSubmitInput())
