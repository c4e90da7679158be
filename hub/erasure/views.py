"""Erasure request pages, for DPOs. Thin: every read and change goes through hub.erasure.service."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from hub.audit.service import record_refusal
from hub.db import london_today
from hub.erasure import service
from hub.erasure.forms import AnswerForm, DecisionForm, RequestForm
from hub.errors import Invalid
from hub.models.erasure import Outcome
from hub.models.retention import RecordClass
from hub.permissions import may_handle_erasure
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("erasure", __name__, url_prefix="/erasure")


@bp.before_request
def _dpos_only():
    """Closed by default: a new erasure page is a DPO's page too. The services check again."""
    if not may_handle_erasure(actor()):
        record_refusal(actor(), "page", request.endpoint)
        abort(403)


@bp.route("/")
@personal_data
def index():
    requests = service.requests_for(actor())
    service.record_list_read(actor(), requests)
    return render_template("erasure/index.html", requests=requests,
                           children=service.named_children(actor(), requests))


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = RequestForm()
    if form.validate_on_submit():
        try:
            made = service.record_request(actor(), service.RequestDetails(
                form.child_id.data, form.received_on.data, form.requester.data, form.request_text.data,
                form.person_id.data),
                london_today())
            flash("Request recorded: each agency holding records about the "
                  f"{'person' if made.person_id else 'child'} now decides for its own.", "success")
            return redirect(url_for("erasure.show", erasure_id=made.id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("erasure/new.html", form=form)


@bp.route("/<int:erasure_id>")
@personal_data
def show(erasure_id: int):
    return render_template("erasure/show.html", view=service.request_page(actor(), erasure_id),
                           answer_form=AnswerForm())


@bp.route("/<int:erasure_id>/decide/<record_class>", methods=["GET", "POST"])
def decide(erasure_id: int, record_class: str):
    try:
        chosen = RecordClass(record_class)
    except ValueError:
        abort(404)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            outcome = Outcome(form.outcome.data) if form.outcome.data else None
            service.decide(actor(), erasure_id, chosen, outcome, form.reason.data)
            flash("Decision recorded." + (" The worker destroys the records and writes a destruction certificate."
                                          if outcome is Outcome.erase else ""), "success")
            return redirect(url_for("erasure.show", erasure_id=erasure_id))
        except Invalid as exc:
            apply_errors(form, exc)
    made, holding = service.holding_for(actor(), erasure_id, chosen)
    if request.method == "GET" and not form.outcome.data:
        form.outcome.data = holding.suggested.value
    return render_template("erasure/decide.html", form=form, request_=made, holding=holding)


@bp.route("/<int:erasure_id>/reply")
@personal_data
def reply(erasure_id: int):
    try:
        found = service.reply(actor(), erasure_id)
    except Invalid as exc:
        flash(next(iter(exc.errors.values())), "error")
        return redirect(url_for("erasure.show", erasure_id=erasure_id))
    return render_template("erasure/reply.html", reply=found)


@bp.route("/<int:erasure_id>/answer", methods=["POST"])
def answer(erasure_id: int):
    form = AnswerForm()
    try:
        if not form.validate_on_submit():
            raise Invalid({"reply": "Send the form again"})
        service.answer(actor(), erasure_id)
        flash("The request is recorded as answered.", "success")
    except Invalid as exc:
        flash(next(iter(exc.errors.values())), "error")
    return redirect(url_for("erasure.show", erasure_id=erasure_id))
