"""MACE pages: Meetings, agendas (with proposals), attendance, minutes, agency updates and risk levels."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.routing import BuildError

from hub.errors import Invalid
from hub.mace.forms.meetings import (
    AddItemForm,
    HeldForm,
    MeetingForm,
    MinutesForm,
    NotesForm,
    ProposalsForm,
    RiskForm,
    UpdateForm,
    attendance_form,
)
from hub.mace.operations import agenda, meetings
from hub.models.mace import Attendance, ProposalDecision, SubjectKind
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("mace_meetings", __name__, url_prefix="/mace")


def _maybe_url(endpoint: str, **values) -> str | None:
    """A link to a page another part of MACE builds, or None while it does not exist yet."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


@bp.route("/groups/<int:group_id>/meetings/new", methods=["GET", "POST"])
@personal_data
def new_meeting(group_id: int):
    form = MeetingForm()
    group = meetings.new_meeting_page(actor(), group_id)
    if form.validate_on_submit():
        try:
            meeting = meetings.schedule(actor(), group_id, meetings.MeetingDetails(
                day=form.day.data, time=form.time.data, venue=form.venue.data))
            flash("Meeting scheduled.", "success")
            return redirect(url_for("mace_meetings.meeting", meeting_id=meeting.id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("mace/meeting_new.html", form=form, group=group)


@bp.route("/meetings/<int:meeting_id>")
@personal_data
def meeting(meeting_id: int):
    page = meetings.meeting_page(actor(), meeting_id)
    links = {name: _maybe_url(f"mace_actions.{name}", meeting_id=meeting_id)
             for name in ("new_action", "meeting_outcomes", "export_meeting")}
    return render_template("mace/meeting.html", page=page, links=links, held_form=HeldForm())


@bp.route("/meetings/<int:meeting_id>/attendance", methods=["GET", "POST"])
@personal_data
def attendance(meeting_id: int):
    meeting, rows = meetings.attendance_page(actor(), meeting_id)
    form = attendance_form(rows)
    if form.validate_on_submit():
        marks = {m.user_id: Attendance(v) if (v := form[f"member_{m.user_id}"].data) else None for m, _ in rows}
        try:
            meetings.record_attendance(actor(), meeting_id, marks)
            flash("Attendance saved.", "success")
            return redirect(url_for("mace_meetings.meeting", meeting_id=meeting_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("mace/meeting_attendance.html", form=form, meeting=meeting, rows=rows)


@bp.route("/meetings/<int:meeting_id>/held", methods=["POST"])
def held(meeting_id: int):
    if HeldForm().validate_on_submit():
        try:
            meetings.record_held(actor(), meeting_id)
            flash("The meeting is recorded as held.", "success")
        except Invalid as exc:
            flash(next(iter(exc.errors.values())), "error")
    return redirect(url_for("mace_meetings.meeting", meeting_id=meeting_id))


@bp.route("/meetings/<int:meeting_id>/notes", methods=["GET", "POST"])
@personal_data
def notes(meeting_id: int):
    meeting = meetings.notes_page(actor(), meeting_id)
    form = NotesForm(data={"notes": meeting.notes, "next_meeting_on": meeting.next_meeting_on})
    if form.validate_on_submit():
        try:
            meetings.record_notes(actor(), meeting_id, meetings.NotesDraft(form.notes.data, form.next_meeting_on.data))
            flash("Notes saved.", "success")
            return redirect(url_for("mace_meetings.meeting", meeting_id=meeting_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("mace/meeting_notes.html", form=form, meeting=meeting)


def _item_draft(form: AddItemForm) -> agenda.ItemDraft:
    if form.child_id.data:
        return agenda.ItemDraft(SubjectKind.child, form.child_id.data)
    kind, _, subject_id = (form.subject.data or "").partition(":")
    valid = kind in SubjectKind.__members__ and subject_id.isdigit()
    return agenda.ItemDraft(SubjectKind(kind) if valid else None, int(subject_id) if valid else None)


@bp.route("/meetings/<int:meeting_id>/agenda/new", methods=["GET", "POST"])
@personal_data
def add_item(meeting_id: int):
    choices = agenda.agenda_choices(actor(), meeting_id)
    form = AddItemForm()
    form.subject.choices = [("", "Choose")] + [(f"child:{c.id}", f"Child: {c.full_name}") for c in choices.children] + [
        (f"location:{x.id}", f"Location: {x.name}") for x in choices.locations] + [
        (f"person:{x.id}", f"Person or peer group: {x.name}") for x in choices.persons]
    if form.validate_on_submit():
        try:
            agenda.add_item(actor(), meeting_id, _item_draft(form))
            flash("Added to the agenda.", "success")
            return redirect(url_for("mace_meetings.meeting", meeting_id=meeting_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("mace/meeting_add_item.html", form=form, meeting=choices.meeting)


@bp.route("/meetings/<int:meeting_id>/proposals", methods=["GET", "POST"])
@personal_data
def proposals(meeting_id: int):
    form = ProposalsForm()
    if form.validate_on_submit():
        decision = ProposalDecision.dismissed if form.dismiss.data else ProposalDecision.accepted
        try:
            items = agenda.decide(actor(), meeting_id, list(form.keys.data or []), decision)
            flash(f"{len(items)} added to the agenda." if items else "Proposals answered.", "success")
            return redirect(url_for("mace_meetings.proposals", meeting_id=meeting_id))
        except Invalid as exc:
            apply_errors(form, exc)
    meeting, found = agenda.proposals_page(actor(), meeting_id)
    return render_template("mace/meeting_proposals.html", form=form, meeting=meeting, found=found)


def _item_forms(page: agenda.ItemPage, **sent) -> dict:
    item = page.view.item
    risk = sent.get("risk") or RiskForm(formdata=None, data={"level": item.risk_level})
    risk.level.choices = [(level, level) for level in page.meeting.group.risk_levels]
    return {"minutes": sent.get("minutes") or MinutesForm(formdata=None, data={
                "minutes": item.minutes, "decisions": item.decisions}),
            "risk": risk, "update": sent.get("update") or UpdateForm(formdata=None)}


def _item(agenda_item_id: int, **sent):
    page = agenda.item_page(actor(), agenda_item_id)
    forms = _item_forms(page, **sent)
    return render_template("mace/meeting_item.html", page=page, forms=forms, form=next(iter(sent.values()), None))


@bp.route("/agenda-items/<int:agenda_item_id>")
@personal_data
def item(agenda_item_id: int):
    return _item(agenda_item_id)


def _save(agenda_item_id: int, name: str, form, change):
    if form.validate_on_submit():
        try:
            change(form)
            flash("Saved.", "success")
            return redirect(url_for("mace_meetings.item", agenda_item_id=agenda_item_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return _item(agenda_item_id, **{name: form}), 400


@bp.route("/agenda-items/<int:agenda_item_id>/minutes", methods=["POST"])
def item_minutes(agenda_item_id: int):
    return _save(agenda_item_id, "minutes", MinutesForm(), lambda f: agenda.record_minutes(
        actor(), agenda_item_id, agenda.MinutesDraft(f.minutes.data, f.decisions.data)))


@bp.route("/agenda-items/<int:agenda_item_id>/risk", methods=["POST"])
def item_risk(agenda_item_id: int):
    return _save(agenda_item_id, "risk", RiskForm(), lambda f: agenda.set_risk(
        actor(), agenda_item_id, agenda.RiskDraft(f.level.data, f.review_on.data)))


@bp.route("/agenda-items/<int:agenda_item_id>/updates", methods=["POST"])
def item_update(agenda_item_id: int):
    return _save(agenda_item_id, "update", UpdateForm(), lambda f: agenda.add_update(
        actor(), agenda_item_id, f.text.data))
