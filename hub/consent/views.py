"""Consent pages: record consent (or its refusal) for a child, and withdraw it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from hub.auth import organisations as auth_organisations
from hub.consent import service
from hub.consent.forms import ConsentForm, WithdrawForm
from hub.errors import Invalid
from hub.models.consent import GivenBy
from hub.models.sharing import Category
from hub.people import service as people
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("consent", __name__, url_prefix="/consent")


@bp.route("/new/<int:child_id>", methods=["GET", "POST"])
@personal_data
def new(child_id: int):
    child = people.get_child(actor(), child_id, purpose="record consent")
    form = ConsentForm()
    form.recipient_org_ids.choices = [(o.id, o.name) for o in auth_organisations.recipients_for(actor())]
    if form.validate_on_submit():
        competent = {"yes": True, "no": False}.get(form.child_competent.data)
        try:
            service.record_consent(actor(), service.ConsentDetails(
                child_id=child_id, given_by=GivenBy(form.given_by.data), giver_description=form.giver_description.data,
                given=form.given.data == "yes", purposes=[Category(p) for p in form.purposes.data or []],
                recipient_org_ids=list(form.recipient_org_ids.data or []), obtained_on=form.obtained_on.data,
                valid_until=form.valid_until.data, child_competent=competent,
                competence_note=form.competence_note.data))
            flash("Consent recorded.", "success")
            return redirect(url_for("people.show", child_id=child_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("consent/new.html", form=form, child=child)


@bp.route("/<int:consent_id>/withdraw", methods=["POST"])
def withdraw(consent_id: int):
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            flagged = service.withdraw(actor(), consent_id, form.reason.data)
            flash(f"Consent withdrawn. {flagged} earlier share(s) flagged for review.", "success")
        except Invalid as exc:
            flash(next(iter(exc.errors.values())), "error")
    else:
        flash("Record how and why consent was withdrawn", "error")
    child_id = service.child_of(consent_id)
    return redirect(url_for("people.show", child_id=child_id) if child_id else url_for("core.home"))
