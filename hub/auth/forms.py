"""Sign-in forms. Every form carries a CSRF token (flask-wtf), the sign-in form too."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import InputRequired, Length


class SignInForm(FlaskForm):
    email = StringField("E-mail address", widget=GovTextInput(),
                        validators=[InputRequired("Enter your e-mail address"), Length(max=254)])
    password = PasswordField("Password", widget=GovPasswordInput(),
                             validators=[InputRequired("Enter your password"), Length(max=200)])
    submit = SubmitField("Continue", widget=GovSubmitInput())


class SecondFactorForm(FlaskForm):
    code = StringField(
        "Security code", widget=GovTextInput(),
        description="The 6-digit code from your authenticator app, or one of your recovery codes",
        validators=[InputRequired("Enter the security code from your authenticator app"), Length(max=20)],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class EnrolForm(FlaskForm):
    code = StringField(
        "Security code from your app", widget=GovTextInput(),
        description="After you add the hub to your authenticator app, enter the 6-digit code it shows",
        validators=[InputRequired("Enter the 6-digit code from your authenticator app"), Length(max=10)],
    )
    submit = SubmitField("Confirm", widget=GovSubmitInput())


class ConfirmForm(FlaskForm):
    """A form with only a button: POST plus CSRF for sign-out and similar actions."""

    submit = SubmitField("Confirm", widget=GovSubmitInput())


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", widget=GovPasswordInput(),
                            validators=[InputRequired("Enter your current password"), Length(max=200)])
    new = PasswordField("New password", widget=GovPasswordInput(),
                        description="At least 12 characters; a few words you will remember are best",
                        validators=[InputRequired("Enter a new password"), Length(max=200)])
    confirm = PasswordField("New password again", widget=GovPasswordInput(),
                            validators=[InputRequired("Enter the new password again")])
    submit = SubmitField("Change password", widget=GovSubmitInput())
