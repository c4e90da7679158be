"""Retention pages, for an organisation's DPO: its schedule, the records due for review, legal
holds. Thin: every read and change goes through hub.retention.service."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from hub.audit.service import record_refusal
from hub.db import london_today
from hub.errors import Invalid
from hub.models.retention import HoldKind, RecordClass
from hub.permissions import may_keep_retention
from hub.retention import rules, service
from hub.retention.forms import ApproveForm, HoldForm, KeepForm, LiftForm, PeriodForm
from hub.retention.scheduling import SHARE_CLASSES
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("retention", __name__, url_prefix="/retention")

#: The classes whose record is a share the DPO can open from the queue (MACE intelligence opens
#: only to the group's members; the other classes have no page of their own to link).
OPENABLE_SHARES = {c.value for c in SHARE_CLASSES} - {RecordClass.mace_intelligence.value}


@bp.before_request
def _keepers_only():
    """Closed by default: a new retention page is a DPO's page too. The services check again."""
    if not may_keep_retention(actor()):
        record_refusal(actor(), "page", request.endpoint)
        abort(403)


@bp.route("/")
def index():
    """The records due for review: class, number, dates and rule; no child, no content."""
    rows, total = service.due(actor(), london_today())
    return render_template("retention/queue.html", rows=rows, total=total, form=ApproveForm(),
                           defaults=rules.DEFAULTS, shares=OPENABLE_SHARES)


@bp.route("/approve", methods=["POST"])
def approve():
    form = ApproveForm()
    try:
        if not form.validate_on_submit():
            raise Invalid({"record": "Choose the records to destroy"})
        count = service.approve_destruction(actor(), form.record_id.data, london_today())
        flash(f"Destruction of {count} record{'s' if count != 1 else ''} approved: the worker destroys "
              "them and writes a destruction certificate.", "success")
    except Invalid as exc:
        flash(next(iter(exc.errors.values())), "error")
    return redirect(url_for("retention.index"))


@bp.route("/records/<int:retention_id>/keep", methods=["GET", "POST"])
def keep(retention_id: int):
    form = KeepForm()
    if form.validate_on_submit():
        try:
            service.keep(actor(), retention_id, form.until.data, form.reason.data, london_today())
            flash("Record kept until its new review date.", "success")
            return redirect(url_for("retention.index"))
        except Invalid as exc:
            apply_errors(form, exc)
    record = service.record_for(actor(), retention_id)
    return render_template("retention/keep.html", form=form, record=record, defaults=rules.DEFAULTS)


@bp.route("/schedule")
def schedule():
    return render_template("retention/schedule.html", rows=service.schedule_for(actor()))


@bp.route("/schedule/<record_class>", methods=["GET", "POST"])
def period(record_class: str):
    try:
        chosen = RecordClass(record_class)
    except ValueError:
        abort(404)
    form = PeriodForm()
    if form.validate_on_submit():
        try:
            service.set_period(actor(), chosen, form.period.data, form.reason.data)
            flash("Period saved: records written from now on follow it.", "success")
            return redirect(url_for("retention.schedule"))
        except Invalid as exc:
            apply_errors(form, exc)
    row = next((r for r in service.schedule_for(actor()) if r.record_class == chosen), None)
    if row is None:
        abort(404)
    if request.method == "GET":
        form.period.data = row.period
    return render_template("retention/period.html", form=form, row=row, basis=rules.DEFAULTS[chosen].basis)


@bp.route("/holds")
@personal_data
def holds():
    everything = request.args.get("all") == "1"
    found = service.holds_for(actor(), include_lifted=everything)
    service.record_holds_read(actor(), found)
    return render_template("retention/holds.html", holds=found, everything=everything, defaults=rules.DEFAULTS)


@bp.route("/holds/new", methods=["GET", "POST"])
def new_hold():
    form = HoldForm()
    if form.validate_on_submit():
        try:
            service.set_hold(actor(), service.HoldDetails(
                kind=HoldKind(form.kind.data), reason=form.reason.data, child_id=form.child_id.data,
                record_class=RecordClass(form.record_class.data) if form.record_class.data else None))
            flash("Legal hold set: nothing it covers can be destroyed until it is lifted.", "success")
            return redirect(url_for("retention.holds"))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("retention/hold_new.html", form=form)


@bp.route("/holds/<int:hold_id>/lift", methods=["GET", "POST"])
def lift(hold_id: int):
    form = LiftForm()
    if form.validate_on_submit():
        try:
            service.lift_hold(actor(), hold_id, form.reason.data)
            flash("Legal hold lifted.", "success")
            return redirect(url_for("retention.holds"))
        except Invalid as exc:
            apply_errors(form, exc)
    hold = service.hold_for(actor(), hold_id)
    return render_template("retention/lift.html", form=form, hold=hold)
