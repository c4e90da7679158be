"""MACE pages: actions and disruption activity, each agency's outcomes, the member's own lists (also the
home page's MACE counts), and the per-agency export."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, url_for

from hub.errors import Invalid
from hub.mace.forms.actions import ActionForm, BreachForm, OutcomeForm, StatusForm
from hub.mace.operations import actions, exports, mine, outcomes
from hub.models.mace import ActionKind, ActionStatus, DisruptionKind
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("mace_actions", __name__, url_prefix="/mace")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.app_context_processor
def _home_counts() -> dict:
    """The home page's MACE section asks for its counts only when the user sits on a group."""
    return {"mace_home_counts": lambda: mine.home_counts(actor())}


def _action_form(options: actions.ActionOptions) -> ActionForm:
    form = ActionForm()
    # Named as on the meeting page: a notice must not land on the wrong child's item.
    form.item_id.choices = [(0, "Not for one item")] + [
        (i.id, f"Item {n}: {options.item_names[i.id]} ({i.subject_kind.label.lower()})")
        for n, i in enumerate(options.items, start=1)]
    form.owner_organisation_id.choices = [(0, "Choose the agency")] + [(o.id, o.name) for o in options.organisations]
    form.owner_user_id.choices = [(0, "No named owner")] + [(m.user_id, f"{m.user.name}, {m.organisation.name}")
                                                            for m in options.members]
    form.person_id.choices = [(0, "Choose")] + [(p.id, p.name) for p in options.persons]
    form.child_id.choices = [(0, "Choose")] + [(c.id, c.full_name) for c in options.children]
    return form


def _draft(form: ActionForm) -> actions.ActionDraft:
    return actions.ActionDraft(
        description=form.description.data, owner_organisation_id=form.owner_organisation_id.data or None,
        due_on=form.due_on.data, kind=ActionKind(form.kind.data or "task"), item_id=form.item_id.data or None,
        owner_user_id=form.owner_user_id.data or None,
        disruption_kind=DisruptionKind(form.disruption_kind.data) if form.disruption_kind.data in
        {k.value for k in DisruptionKind} else None,
        person_id=form.person_id.data or None, child_id=form.child_id.data or None, served_on=form.served_on.data,
        serving_officer=form.serving_officer.data, review_on=form.review_on.data)


@bp.route("/meetings/<int:meeting_id>/actions/new", methods=["GET", "POST"])
@personal_data
def new_action(meeting_id: int):
    options = actions.action_options(actor(), meeting_id)
    form = _action_form(options)
    if form.validate_on_submit():
        try:
            action = actions.create_action(actor(), meeting_id, _draft(form))
            flash("Action added.", "success")
            return redirect(url_for("mace_actions.show_action", action_id=action.id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("mace/action_new.html", form=form, options=options)


@bp.route("/actions/<int:action_id>")
@personal_data
def show_action(action_id: int):
    page = actions.action_page(actor(), action_id)
    form = StatusForm(status=page.action.status.value)
    return render_template("mace/action.html", page=page, form=form, breach_form=BreachForm())


@bp.route("/actions/<int:action_id>/status", methods=["POST"])
def update_action(action_id: int):
    form = StatusForm()
    status = form.status.data if form.status.data in {s.value for s in ActionStatus} else None
    try:
        if not form.validate_on_submit():
            raise Invalid("Your form could not be sent; try again")
        actions.update_status(actor(), action_id, ActionStatus(status) if status else None, form.note.data)
        flash("Action updated.", "success")
    except Invalid as exc:
        flash(next(iter(exc.errors.values())), "error")
    return redirect(url_for("mace_actions.show_action", action_id=action_id))


@bp.route("/actions/<int:action_id>/breach", methods=["POST"])
def record_breach(action_id: int):
    form = BreachForm()
    try:
        if not form.validate_on_submit():
            raise Invalid("Your form could not be sent; try again")
        actions.record_breach(actor(), action_id, form.breach_note.data)
        flash("Breach recorded.", "success")
    except Invalid as exc:
        flash(next(iter(exc.errors.values())), "error")
    return redirect(url_for("mace_actions.show_action", action_id=action_id))


@bp.route("/groups/<int:group_id>/actions")
@personal_data
def group_actions(group_id: int):
    return render_template("mace/actions_group.html", listing=actions.group_actions(actor(), group_id))


@bp.route("/my/actions")
@personal_data
def my_actions():
    return render_template("mace/my_actions.html", listing=actions.my_actions(actor()))


@bp.route("/meetings/<int:meeting_id>/outcomes", methods=["GET", "POST"])
@personal_data
def meeting_outcomes(meeting_id: int):
    form = OutcomeForm()
    if form.validate_on_submit():
        try:
            outcomes.record_outcome(actor(), meeting_id, outcomes.OutcomeDraft(
                form.organisation_id.data, form.child_id.data, form.outcome.data, form.system_name.data,
                form.system_reference.data))
            flash("Outcome recorded and confirmed.", "success")
            return redirect(url_for("mace_actions.meeting_outcomes", meeting_id=meeting_id))
        except Invalid as exc:
            apply_errors(form, exc)
    page = outcomes.meeting_outcomes(actor(), meeting_id)
    return render_template("mace/outcomes.html", page=page, form=form, blank=OutcomeForm(formdata=None))


@bp.route("/my/outcomes")
@personal_data
def my_outcomes():
    return render_template("mace/my_outcomes.html", waiting=outcomes.my_outcomes(actor()))


@bp.route("/my/meetings")
@personal_data
def my_meetings():
    return render_template("mace/my_meetings.html", meetings=mine.my_meetings(actor()))


@bp.route("/meetings/<int:meeting_id>/export.xlsx")
@personal_data
def export_meeting(meeting_id: int):
    export = exports.meeting_export(actor(), meeting_id)
    return Response(export.content, mimetype=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{export.filename}"'})
