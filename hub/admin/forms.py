"""Administration forms."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovPasswordInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, Optional

from hub.forms import record_id
from hub.models.roles import ORG_KIND_LABELS, ROLE_LABELS


class OrganisationForm(FlaskForm):
    name = StringField("Name", widget=GovTextInput(), validators=[InputRequired("Enter the organisation's name"),
                                                                  Length(max=200)])
    code = StringField("Short code", widget=GovTextInput(), description="Used in web addresses, like HILLSIDE-PRI",
                       validators=[InputRequired("Enter a short code"), Length(max=20)])
    kind = SelectField("Kind of organisation", widget=GovSelect(),
                       choices=[(k.value, label) for k, label in ORG_KIND_LABELS.items()])
    identifier = StringField(
        "Identifier", widget=GovTextInput(),
        description="School URN (6 digits), NHS ODS code, police force code (2 digits) or LA code (3 digits)",
        validators=[InputRequired("Enter the organisation's identifier"), Length(max=20)])
    local_authority_id = SelectField("Local authority area", widget=GovSelect(), coerce=record_id,
                                     validators=[Optional()])
    school_day_start = StringField("School day starts at (schools)", widget=GovTextInput(),
                                   description="24-hour time, like 08:30", validators=[Optional(), Length(max=5)])
    working_hours_start = StringField("Working hours start", widget=GovTextInput(), default="08:00",
                                      description="London time, Monday to Friday, like 08:00",
                                      validators=[Optional(), Length(max=5)])
    working_hours_end = StringField("Working hours end", widget=GovTextInput(), default="18:00",
                                    description="Like 18:00; 24:00 for midnight. Reads of a child's record by the "
                                                "organisation's staff outside these hours are flagged to the DPO.",
                                    validators=[Optional(), Length(max=5)])
    submit = SubmitField("Save organisation", widget=GovSubmitInput())


class UserForm(FlaskForm):
    name = StringField("Full name", widget=GovTextInput(), validators=[InputRequired("Enter the person's name"),
                                                                       Length(max=200)])
    email = StringField("E-mail address", widget=GovTextInput(),
                        validators=[InputRequired("Enter the person's e-mail address"), Length(max=254)])
    organisation_id = SelectField("Organisation", widget=GovSelect(), coerce=record_id,
                                  validators=[InputRequired("Choose the person's organisation")])
    roles = SelectMultipleField("Roles", widget=GovCheckboxesInput(),
                                choices=[(r.value, label) for r, label in ROLE_LABELS.items()])
    submit = SubmitField("Save user", widget=GovSubmitInput())


class NewUserForm(UserForm):
    """No password field: the hub generates the initial password and shows it once (ASVS V6.4.1)."""

    sso_only = BooleanField("Single sign-on only: no password", widget=GovCheckboxInput(),
                            description="They sign in only through their organisation's provider. Otherwise the hub "
                                        "gives them an initial password, which you pass on.")
    submit = SubmitField("Add user", widget=GovSubmitInput())


class SsoForm(FlaskForm):
    issuer = StringField("Issuer URL", widget=GovTextInput(), description="For example https://login.example.org",
                         validators=[InputRequired("Enter the provider's issuer URL"), Length(max=500)])
    client_id = StringField("Client ID", widget=GovTextInput(),
                            validators=[InputRequired("Enter the client ID"), Length(max=200)])
    client_secret = PasswordField("Client secret", widget=GovPasswordInput(), validators=[Optional(), Length(max=500)],
                                  description="Leave empty to keep the stored secret")
    submit = SubmitField("Save single sign-on settings", widget=GovSubmitInput())


class LocalGatewayForm(FlaskForm):
    code = StringField("Code", widget=GovTextInput(), description="Starts LOCAL-, like LOCAL-MISSING-PROTOCOL",
                       validators=[InputRequired("Enter a code starting LOCAL-"), Length(max=40)])
    label = StringField("Name", widget=GovTextInput(), description="As practitioners will see it in the share form",
                        validators=[InputRequired("Enter the gateway's name"), Length(max=200)])
    explanation = StringField("When it allows sharing, in plain English", widget=GovTextInput(),
                              validators=[InputRequired("Explain when it allows sharing"), Length(max=500)])
    submit = SubmitField("Add gateway", widget=GovSubmitInput())
