"""The register's pages: share about a child, one share, and what was shared with and by us."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from hub.auth import organisations as auth_organisations
from hub.auth.forms import ConfirmForm
from hub.errors import Invalid
from hub.models.sharing import (
    Category,
    ConsentPosition,
    ObtainedHow,
    RecipientStatus,
    ShareRecord,
    SourceKind,
)
from hub.people import service as people
from hub.sharing import corrections as share_corrections
from hub.sharing import decisions as share_decisions
from hub.sharing import gateways as share_gateways
from hub.sharing import journey, legal_bases, service
from hub.sharing import reading as share_reading
from hub.sharing import recipients as share_recipients
from hub.sharing import register as share_register
from hub.sharing.forms import (
    CorrectionForm,
    DecisionForm,
    OnwardForm,
    RegisterFilterForm,
    RevokeForm,
    ShareForm,
    fill_choices,
    share_draft,
)
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("sharing", __name__, url_prefix="/sharing")
journey.register(bp)  # /sharing/new/<child_id>: the question pages and "Check your answers"


def _local_gateways() -> list[legal_bases.LegalBasis]:
    """The locality's gateways, read once per request however many codes a page shows."""
    if "sharing_gateways" not in g:
        g.sharing_gateways = share_gateways.gateways()
    return g.sharing_gateways


@bp.app_template_filter("legal_basis")
def legal_basis_label(code: str | None) -> str:
    """A legal basis code in plain English with the code beside it (legal_bases.describe)."""
    national = any(code in entries for entries in legal_bases.BY_CODE.values())
    return legal_bases.describe(code, () if national or not code else _local_gateways())


@bp.app_template_filter("legal_bases")
def share_legal_bases(share: ShareRecord) -> list[str]:
    """Every legal basis a share names, each in plain English, in the order the law sets them."""
    return [legal_basis_label(code) for code in (share.article_6, share.article_9, share.article_10,
                                                 share.part_3, share.gateway) if code]


@bp.route("")
@personal_data
def index():
    lists = share_register.lists(actor())
    return render_template("sharing/index.html", lists=lists,
                           share_children=share_reading.children_named(actor(), lists.received + lists.sent))


def _share_form(child_id: int, form_class: type[ShareForm] = ShareForm) -> ShareForm:
    form = form_class()
    fill_choices(form, actor(), child_id)
    return form


def _fill(form: ShareForm, share: ShareRecord, only: set[str] | None = None) -> None:
    """Fill the share form from an existing share (on first showing only: a sent form keeps its
    own values)."""
    if form.is_submitted():
        return
    special = {"recipient_org_ids": [r.organisation_id for r in share.recipients
                                     if r.status != RecipientStatus.revoked],
               "family_told": {True: "yes", False: "no"}.get(share.family_told),
               "consent_record_id": share.consent_record_id or 0,
               "authorised_by_user_id": share.authorised_by_user_id or 0}
    for field in form:
        if only is not None and field.name not in only:
            continue
        if field.name in special:
            field.data = special[field.name]
        elif field.name in ShareRecord.__mapper__.attrs and field.name != "supersede_reason":  # the new one's own
            value = getattr(share, field.name)
            field.data = getattr(value, "value", value)  # enums as their form values


def _register_filter(form) -> share_register.RegisterFilter:
    organisations = [(0, "Any")] + [(o.id, o.name) for o in auth_organisations.recipients_for(actor())] + [
        (actor().organisation_id, actor().organisation.name)]
    form.sender_org_id.choices = organisations
    form.recipient_org_id.choices = organisations
    local = [b for b in _local_gateways() if b.code not in legal_bases.BY_CODE["gateway"]]
    form.legal_basis.choices = form.legal_basis.choices + [  # a new list: the class's stays as it is
        (b.code, legal_bases.describe(b.code, local)) for b in local]
    if not request.args or not form.validate():
        return share_register.RegisterFilter()
    return share_register.RegisterFilter(
        sender_org_id=form.sender_org_id.data or None, recipient_org_id=form.recipient_org_id.data or None,
        legal_basis=form.legal_basis.data or None,
        consent_position=ConsentPosition(form.consent_position.data) if form.consent_position.data else None,
        category=Category(form.category.data) if form.category.data else None,
        date_from=form.date_from.data, date_to=form.date_to.data, sort=form.sort.data or "newest")


@bp.route("/register")
@personal_data
def register():
    form = RegisterFilterForm(request.args)
    filters = _register_filter(form)
    page = request.args.get("page", 1, type=int)
    shares, more = [], False
    try:
        shares, more = share_register.register(actor(), filters, page)
    except Invalid as exc:
        apply_errors(form, exc)
    args = request.args.to_dict(flat=False)
    args.pop("page", None)
    next_url = url_for("sharing.register", **args, page=page + 1) if more else None
    return render_template("sharing/register.html", form=form, shares=shares, next_url=next_url, args=args,
                           share_children=share_reading.children_named(actor(), shares))


@bp.route("/register.xlsx")
@personal_data
def register_xlsx():
    form = RegisterFilterForm(request.args)
    content = share_register.register_xlsx(actor(), _register_filter(form))
    return Response(content, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="sharing-register-{date.today()}.xlsx"'})


@bp.route("/<int:share_id>/correct", methods=["GET", "POST"])
@personal_data
def correct(share_id: int):
    original = share_corrections.for_correction(actor(), share_id)
    child = people.get_child(actor(), original.child_id, purpose="correct a share")
    form = _share_form(original.child_id, CorrectionForm)
    _fill(form, original)
    if form.validate_on_submit():
        try:
            share = share_corrections.correct(actor(), share_id, share_draft(form, original.child_id),
                                              form.supersede_reason.data)
            flash(f"Corrected. Share {original.id} stays on the record, marked as superseded.", "success")
            return redirect(url_for("sharing.show", share_id=share.id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("sharing/correct.html", form=form, child=child, bases=legal_bases, original=original)


@bp.route("/<int:share_id>/onward", methods=["GET", "POST"])
@personal_data
def onward(share_id: int):
    origin = share_corrections.for_onward(actor(), share_id)
    child = people.get_child(actor(), origin.child_id, purpose="share information onward")
    form = _share_form(origin.child_id, OnwardForm)
    _fill(form, origin, only={"category", "summary", "content"})
    if form.validate_on_submit():
        try:
            share = share_corrections.share_onward(actor(), share_id, share_draft(form, origin.child_id))
            flash("Shared onward. The recipients see it in their 'shared with us' list.", "success")
            return redirect(url_for("sharing.show", share_id=share.id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("sharing/onward.html", form=form, child=child, bases=legal_bases, origin=origin)


@bp.route("/decision/<int:child_id>", methods=["GET", "POST"])
@personal_data
def decision(child_id: int):
    child = people.get_child(actor(), child_id, purpose="record a decision not to share")
    form = DecisionForm()
    form.recipient_org_ids.choices = [(o.id, o.name) for o in auth_organisations.recipients_for(actor())]
    if form.validate_on_submit():
        try:
            record = share_decisions.record_decision_not_to_share(actor(), service.ShareDraft(
                child_id=child_id, category=Category(form.category.data), summary=form.summary.data or "",
                content="", purpose="", recipient_org_ids=list(form.recipient_org_ids.data or []),
                source_kind=SourceKind.organisation, source_description="", obtained_how=ObtainedHow.other,
                obtained_on=None, bases=legal_bases.BasisChoice(), consent_position=ConsentPosition.not_needed,
                rationale=form.rationale.data))
            flash("Decision recorded. Only your organisation sees it; nothing was sent.", "success")
            return redirect(url_for("sharing.show", share_id=record.id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("sharing/decision.html", form=form, child=child)


@bp.route("/<int:share_id>")
@personal_data
def show(share_id: int):
    share = share_reading.get_share(actor(), share_id)
    revoke = RevokeForm()
    revoke.recipient.choices = [(r.organisation_id, str(r.organisation_id)) for r in share.recipients]
    return render_template("sharing/show.html", share=share, revoke=revoke, bases=legal_bases,
                           organisations={o.id: o for o in auth_organisations.recipients_for(actor())},
                           mine=share.sender_org_id == actor().organisation_id,
                           about=share_reading.children_named(actor(), [share]).get(share.child_id),
                           corrected_by=share_corrections.corrections(actor(), share))


@bp.route("/<int:share_id>/<any(accept, decline):answer>", methods=["POST"])
def respond(share_id: int, answer: str):
    if ConfirmForm().validate_on_submit():
        try:
            share_recipients.respond(actor(), share_id, accept=answer == "accept")
            flash(f"You have {answer}d this share.", "success")
        except Invalid as exc:
            flash(next(iter(exc.errors.values())), "error")
    return redirect(url_for("sharing.show", share_id=share_id))


@bp.route("/<int:share_id>/revoke", methods=["POST"])
def revoke(share_id: int):
    form = RevokeForm()
    form.recipient.choices = []
    if form.validate_on_submit():
        try:
            share_recipients.revoke(actor(), share_id, form.recipient.data, form.reason.data)
            flash("Access revoked.", "success")
        except Invalid as exc:
            flash(next(iter(exc.errors.values())), "error")
    else:
        flash("Say why you are revoking access", "error")
    return redirect(url_for("sharing.show", share_id=share_id))
