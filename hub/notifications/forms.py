"""The key adult's acknowledgement of a notification."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea
from wtforms import SubmitField, TextAreaField
from wtforms.validators import Length, Optional

from hub.notifications.service import ACTION_MAX


class AcknowledgeForm(FlaskForm):
    school_action = TextAreaField(
        "What did the school do? (optional)", widget=GovTextArea(),
        description="For example: the child is in school today; welfare check made; parents or carers contacted",
        validators=[Optional(), Length(max=ACTION_MAX)])
    submit = SubmitField("Acknowledge", widget=GovSubmitInput())
