"""Forms for a MACE group's locations, persons of concern, links and intelligence."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import Optional

from hub.forms import DateInputField, record_id
from hub.models.mace import LocationKind, PersonKind
from hub.sharing import legal_bases
from hub.sharing.forms import ShareForm

# Lengths are checked by the services (hub.mace.service.check_text), which say so clearly.


class LocationForm(FlaskForm):
    name = StringField("Name of the place", widget=GovTextInput(),
                       description="As the group knows it: \"the park behind the library\"")
    kind = RadioField("What kind of place is it?", widget=GovRadioInput(), validate_choice=False,
                      choices=[(k.value, k.label) for k in LocationKind])
    address = TextAreaField("Address or description of where it is", widget=GovTextArea())
    postcode = StringField("Postcode (optional)", widget=GovTextInput())
    grid_reference = StringField("Grid reference (optional)", widget=GovTextInput())
    submit = SubmitField("Save the place", widget=GovSubmitInput())


class PersonForm(FlaskForm):
    kind = RadioField("A person or a peer group?", widget=GovRadioInput(), validate_choice=False,
                      choices=[(k.value, k.label) for k in PersonKind], default=PersonKind.person.value)
    name = StringField("Name or nickname as known", widget=GovTextInput())
    description = TextAreaField("Description (optional)", widget=GovTextArea())
    aliases = TextAreaField("Aliases (optional)", widget=GovTextArea())
    vehicles = TextAreaField("Vehicles (optional)", widget=GovTextArea())
    phone_numbers = TextAreaField("Phone numbers (optional)", widget=GovTextArea())
    online_handles = TextAreaField("Online handles (optional)", widget=GovTextArea())
    legal_basis = SelectField(
        "Legal basis for holding this record", widget=GovSelect(), validate_choice=False,
        description="Criminal-offence data: an Article 10 condition; the police may use DPA 2018 Part 3 (s35)",
        choices=[("", "Choose")] + [(b.code, f"{b.code}: {b.label}")
                                    for b in legal_bases.ARTICLE_10 + legal_bases.PART_3])
    justification = TextAreaField("Why is holding this record necessary and proportionate?", widget=GovTextArea())
    review_on = DateInputField("Review by", description="In the future, at most 12 months from today",
                               validators=[Optional()])
    submit = SubmitField("Save the record", widget=GovSubmitInput())


class RejustifyForm(FlaskForm):
    justification = TextAreaField("Why is keeping this record still necessary?", widget=GovTextArea())
    review_on = DateInputField("Next review by", description="At most 12 months from today", validators=[Optional()])
    submit = SubmitField("Keep the record", widget=GovSubmitInput())


class RemoveForm(FlaskForm):
    submit = SubmitField("Remove the record", widget=GovSubmitInput())


class LinkForm(FlaskForm):
    child_id = SelectField("Child", widget=GovSelect(), coerce=record_id, validate_choice=False)
    location_id = SelectField("Place", widget=GovSelect(), coerce=record_id, validate_choice=False)
    person_id = SelectField("Person or peer group", widget=GovSelect(), coerce=record_id, validate_choice=False)
    source = StringField("Who or what says they are linked?", widget=GovTextInput(),
                         description="For example \"police patrol\" or \"return interview\"")
    seen_on = DateInputField("When were they seen together or linked?", validators=[Optional()])
    submit = SubmitField("Save the link", widget=GovSubmitInput())


class IntelligenceForm(ShareForm):
    """The register's share form, shared into the group: recipients are the group's member
    organisations (not chosen), and the item names the subjects it concerns."""

    recipient_org_ids = None
    child_ids = SelectMultipleField("Children", widget=GovCheckboxesInput(), coerce=record_id, validate_choice=False)
    location_ids = SelectMultipleField("Places", widget=GovCheckboxesInput(), coerce=record_id, validate_choice=False)
    person_ids = SelectMultipleField("Persons or peer groups", widget=GovCheckboxesInput(), coerce=record_id,
                                     validate_choice=False)
    submit = SubmitField("Share with the group", widget=GovSubmitInput())
