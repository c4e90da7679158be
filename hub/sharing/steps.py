"""The share form as the GOV.UK question pages: one thing per page, then "Check your answers".

Each page asks a part of the share form (hub.sharing.forms.ShareForm): the same fields, labels and
validators, so the pages and the single-page forms (correction, onward sharing, MACE intelligence)
cannot drift apart. The answers are kept as they were sent (field name to the values of the form),
so that a page shows them again exactly as typed and the confirmation rebuilds the whole ShareForm.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput
from wtforms import SubmitField

from hub.sharing.forms import ShareForm


@dataclass(frozen=True)
class Step:
    slug: str
    #: The page's question (its heading and title) and its short name on the check page.
    question: str
    name: str
    fields: tuple[str, ...]


STEPS = (
    Step("what", "What are you sharing?", "What", (
        "category", "summary", "content", "purpose", "special_category", "criminal_offence", "law_enforcement")),
    Step("with-whom", "Who are you sharing it with?", "With whom", ("recipient_org_ids",)),
    Step("legal-basis", "What is the legal basis for sharing?", "Legal basis", (
        "article_6", "article_9", "article_10", "part_3", "gateway")),
    Step("consent", "Consent", "Consent", (
        "consent_position", "consent_record_id", "no_consent_reason", "rationale", "authorised_by_user_id",
        "family_told", "family_told_on", "family_not_told_reason")),
    Step("source", "Where did the information come from?", "Source", (
        "source_kind", "source_description", "obtained_how", "obtained_on", "evidence_reference",
        "source_evaluation", "intelligence_assessment", "handling_code")),
)
BY_SLUG = {step.slug: step for step in STEPS}
STEP_OF_FIELD = {name: step for step in STEPS for name in step.fields}


def next_step(step: Step) -> Step | None:
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else None


def _form_class(step: Step) -> type[FlaskForm]:
    fields = {name: getattr(ShareForm, name) for name in step.fields}
    return type(f"{step.slug.title().replace('-', '')}Form", (FlaskForm,),
                {**fields, "submit": SubmitField("Continue", widget=GovSubmitInput())})


FORMS = {step.slug: _form_class(step) for step in STEPS}


def sent_answers(step: Step, formdata) -> dict[str, list[str]]:
    """What the page sent, field by field (an unticked box sends nothing: an empty list)."""
    return {name: formdata.getlist(name) for name in step.fields}
