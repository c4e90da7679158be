"""The share form: it walks the practitioner through what, why, source and consent."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from hub.auth import organisations as auth_organisations
from hub.consent import service as consent_service
from hub.forms import DateInputField, record_id
from hub.models.sharing import PURPOSE_MAX, Category, ConsentPosition, NoConsentReason, ObtainedHow, SourceKind
from hub.sharing import gateways as share_gateways
from hub.sharing import legal_bases, service
from hub.sharing.service import ShareDraft

NONE = [("", "Not needed")]


def _codes(entries):
    return [(b.code, f"{b.code}: {b.label}") for b in entries]


class ShareForm(FlaskForm):
    category = SelectField("What kind of information is it?", widget=GovSelect(),
                           choices=[(c.value, c.label) for c in Category])
    summary = StringField("Summary", widget=GovTextInput(), description="One line the recipients see first",
                          validators=[InputRequired("Write a short summary of what you are sharing"), Length(max=200)])
    content = TextAreaField("The information", widget=GovTextArea(),
                            description="Only what the recipients need: relevant, adequate and accurate",
                            validators=[Optional(), Length(max=20000)])
    purpose = StringField("Why are you sharing it?", widget=GovTextInput(),
                          validators=[InputRequired("Say why you are sharing it"), Length(max=PURPOSE_MAX)])
    recipient_org_ids = SelectMultipleField("Who are you sharing it with?", widget=GovCheckboxesInput(),
                                            coerce=record_id)
    special_category = BooleanField("It includes health or other special-category information",
                                    widget=GovCheckboxInput())
    criminal_offence = BooleanField("It includes information about offences or alleged offences",
                                    widget=GovCheckboxInput())
    law_enforcement = BooleanField("Police: this is processing for a law-enforcement purpose (DPA 2018 Part 3)",
                                   widget=GovCheckboxInput())
    article_6 = RadioField("Article 6 basis", widget=GovRadioInput(), validate_choice=False,
                           choices=[(b.code, f"{b.label} ({b.code})") for b in legal_bases.ARTICLE_6])
    article_9 = SelectField("Article 9 condition (special-category information)", widget=GovSelect(),
                            choices=NONE + _codes(legal_bases.ARTICLE_9), validate_choice=False)
    article_10 = SelectField("Article 10 condition (criminal-offence information)", widget=GovSelect(),
                             choices=NONE + _codes(legal_bases.ARTICLE_10), validate_choice=False)
    part_3 = SelectField("Part 3 condition (police law enforcement)", widget=GovSelect(),
                         choices=NONE + _codes(legal_bases.PART_3), validate_choice=False)
    gateway = SelectField("Statutory gateway", widget=GovSelect(), validate_choice=False,
                          choices=[("", "Choose")] + [(b.code, b.label) for b in legal_bases.GATEWAYS])
    source_kind = RadioField("Who supplied the information?", widget=GovRadioInput(), default="organisation",
                             choices=[(SourceKind.organisation.value, "An organisation"),
                                      (SourceKind.role.value, "A practitioner, by role"),
                                      (SourceKind.third_party.value, "Someone else (a third party)")])
    source_description = StringField("Which organisation or role, or the third party's relationship to the child",
                                     widget=GovTextInput(), validators=[Length(max=200)])
    obtained_how = SelectField("How was it obtained?", widget=GovSelect(),
                               choices=[(o.value, o.value.replace("_", " ").capitalize()) for o in ObtainedHow])
    obtained_on = DateInputField("When was it obtained?", validators=[Optional()])
    evidence_reference = StringField("Evidence reference (optional)", widget=GovTextInput(),
                                     validators=[Optional(), Length(max=100)])
    source_evaluation = SelectField("Source evaluation (intelligence)", widget=GovSelect(), validate_choice=False,
                                    choices=[("", "Not intelligence"), ("1", "1 Reliable"), ("2", "2 Untested"),
                                             ("3", "3 Not reliable")])
    intelligence_assessment = SelectField("Intelligence assessment", widget=GovSelect(), validate_choice=False,
                                          choices=[("", "Not intelligence")] + [(c, c) for c in "ABCDE"])
    handling_code = SelectField("Handling code", widget=GovSelect(), validate_choice=False,
                                choices=[("", "Not intelligence"), ("P", "P: may be shared"),
                                         ("C", "C: conditions apply (no onward sharing)")])
    consent_position = RadioField("Consent", widget=GovRadioInput(), default="not_needed", choices=[
        (ConsentPosition.consent.value, "We rely on consent that covers this sharing"),
        (ConsentPosition.not_needed.value, "Consent is not needed: another basis applies"),
        (ConsentPosition.refused_but_justified.value, "Consent was refused, but sharing is justified")])
    consent_record_id = SelectField("Which consent?", widget=GovSelect(), coerce=record_id, validate_choice=False)
    no_consent_reason = SelectField("Why is consent not needed?", widget=GovSelect(), validate_choice=False,
                                    choices=[("", "Choose")] + [(r.value, r.value.replace("_", " ").capitalize())
                                                                for r in NoConsentReason])
    rationale = TextAreaField("Why sharing without consent is necessary and proportionate", widget=GovTextArea(),
                              validators=[Optional(), Length(max=5000)])
    authorised_by_user_id = SelectField("Who authorised sharing without consent?", widget=GovSelect(), coerce=record_id,
                                        validate_choice=False)
    family_told = RadioField("Were the child or family told about this sharing?", widget=GovRadioInput(),
                             choices=[("yes", "Yes"), ("no", "No")], validate_choice=False)
    family_told_on = DateInputField("When were they told?", validators=[Optional()])
    family_not_told_reason = TextAreaField("Why not?", widget=GovTextArea(), validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Share", widget=GovSubmitInput())


class CorrectionForm(ShareForm):
    """The share form, filled in from the original, with what was wrong with it."""

    supersede_reason = TextAreaField("What was wrong with the original?", widget=GovTextArea(),
                                     description="The recipients see this with the correction",
                                     validators=[InputRequired("Say what was wrong with the original"),
                                                 Length(max=2000)])
    submit = SubmitField("Record the correction", widget=GovSubmitInput())


class OnwardForm(ShareForm):
    submit = SubmitField("Share onward", widget=GovSubmitInput())


class DecisionForm(FlaskForm):
    """A decision not to share: what, with whom, and why not. Nothing is sent."""

    category = ShareForm.category
    summary = StringField("What information did you decide not to share?", widget=GovTextInput(),
                          validators=[InputRequired("Say what information you decided not to share"),
                                      Length(max=200)])
    recipient_org_ids = SelectMultipleField("Who would it have gone to?", widget=GovCheckboxesInput(), coerce=record_id)
    rationale = TextAreaField("Why did you decide not to share it?", widget=GovTextArea(),
                              validators=[InputRequired("Record why you decided not to share"), Length(max=5000)])
    submit = SubmitField("Record the decision", widget=GovSubmitInput())


class RevokeForm(FlaskForm):
    recipient = SelectField("Organisation", widget=GovSelect(), coerce=record_id, validate_choice=False)
    reason = StringField("Why are you revoking access?", widget=GovTextInput(),
                         validators=[InputRequired("Say why you are revoking access"), Length(max=500)])
    submit = SubmitField("Revoke access", widget=GovSubmitInput())


class RegisterFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    sender_org_id = SelectField("Shared by", widget=GovSelect(), coerce=record_id, validate_choice=False)
    recipient_org_id = SelectField("Shared with", widget=GovSelect(), coerce=record_id, validate_choice=False)
    legal_basis = SelectField("Legal basis", widget=GovSelect(), validate_choice=False, choices=[("", "Any")] + [
        (b.code, legal_bases.describe(b.code)) for entries in legal_bases.LISTS.values() for b in entries])
    consent_position = SelectField("Consent", widget=GovSelect(), validate_choice=False, choices=[("", "Any")] + [
        (c.value, c.label) for c in ConsentPosition])
    category = SelectField("Category", widget=GovSelect(), validate_choice=False,
                           choices=[("", "Any")] + [(c.value, c.label) for c in Category])
    date_from = DateInputField("From", validators=[Optional()])
    date_to = DateInputField("To", validators=[Optional()])
    sort = SelectField("Order", widget=GovSelect(), validate_choice=False,
                       choices=[("newest", "Newest first"), ("oldest", "Oldest first"), ("category", "Category")])
    submit = SubmitField("Filter", widget=GovSubmitInput())


def share_draft(form, child_id: int | None) -> ShareDraft:
    """The share a share form (or a form with the same questions, like MACE intelligence) describes."""
    told = {"yes": True, "no": False}.get(form.family_told.data)
    return ShareDraft(
        child_id=child_id, category=Category(form.category.data), summary=form.summary.data or "",
        content=form.content.data or "", purpose=form.purpose.data or "",
        recipient_org_ids=list(getattr(form, "recipient_org_ids", None) and form.recipient_org_ids.data or []),
        source_kind=SourceKind(form.source_kind.data),
        source_description=form.source_description.data or "", obtained_how=ObtainedHow(form.obtained_how.data),
        obtained_on=form.obtained_on.data,
        bases=legal_bases.BasisChoice(
            article_6=form.article_6.data or None, article_9=form.article_9.data or None,
            article_10=form.article_10.data or None, part_3=form.part_3.data or None,
            gateway=form.gateway.data or None),
        consent_position=ConsentPosition(form.consent_position.data),
        special_category=form.special_category.data, criminal_offence=form.criminal_offence.data,
        law_enforcement=form.law_enforcement.data, evidence_reference=form.evidence_reference.data,
        source_evaluation=form.source_evaluation.data or None,
        intelligence_assessment=form.intelligence_assessment.data or None,
        handling_code=form.handling_code.data or None, consent_record_id=form.consent_record_id.data or None,
        no_consent_reason=NoConsentReason(form.no_consent_reason.data) if form.no_consent_reason.data else None,
        rationale=form.rationale.data, authorised_by_user_id=form.authorised_by_user_id.data or None,
        family_told=told, family_told_on=form.family_told_on.data,
        family_not_told_reason=form.family_not_told_reason.data)


def fill_choices(form, actor, child_id: int) -> None:
    """The choices of the share form's lists that depend on who is sharing about whom (on the
    whole form or on any question page that has them)."""
    if hasattr(form, "recipient_org_ids"):
        form.recipient_org_ids.choices = [(o.id, o.name) for o in auth_organisations.recipients_for(actor)]
    if hasattr(form, "consent_record_id"):
        form.consent_record_id.choices = [(0, "None")] + [
            (c.id, f"Consent {c.id}: {'given' if c.given else 'refused'} {c.obtained_on:%-d %b %Y}, for "
                   f"{c.purposes.replace(',', ', ').replace('_', ' ')}{' (withdrawn)' if c.withdrawn_at else ''}")
            for c in consent_service.consents_for(actor, child_id)]
    if hasattr(form, "authorised_by_user_id"):
        form.authorised_by_user_id.choices = [(0, "Choose")] + [(u.id, u.name) for u in service.authorisers(actor)]
    if hasattr(form, "gateway"):
        # Only the gateways in force today: one enacted but not yet commenced is not offered.
        form.gateway.choices = [("", "Choose")] + [(b.code, b.label) for b in share_gateways.gateways()]
