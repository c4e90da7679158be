"""Forms for MACE groups and their membership."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput
from wtforms import RadioField, SelectField, SubmitField
from wtforms.validators import InputRequired

from hub.forms import DateInputField, record_id
from hub.models.mace import MemberRole


class AddMemberForm(FlaskForm):
    user_id = SelectField("Person", widget=GovSelect(), coerce=record_id,
                          validators=[InputRequired("Choose the person to add")])
    role = RadioField("Their part in the group", widget=GovRadioInput(),
                      choices=[(r.value, r.label) for r in MemberRole], default=MemberRole.member.value,
                      validators=[InputRequired("Choose their part in the group")])
    start_date = DateInputField("Membership starts", validators=[InputRequired("Enter the date membership starts")])
    submit = SubmitField("Add member", widget=GovSubmitInput())


class EndMembershipForm(FlaskForm):
    end_date = DateInputField("Membership ends on", description="From this day they see nothing of the group",
                              validators=[InputRequired("Enter the date the membership ends")])
    submit = SubmitField("End membership", widget=GovSubmitInput())
