"""Pages for the police daily download: upload, progress, row errors, the review queue and the
column mapping (a thin blueprint: the rules are in hub/missing/imports/batches.py, review.py and
mapping.py)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for

from hub.errors import Invalid
from hub.missing import reading as episode_reading
from hub.missing.imports import batches as import_batches
from hub.missing.imports import mapping as import_mapping
from hub.missing.imports import review as import_review
from hub.missing.imports.download import COLUMNS, Limits
from hub.missing.imports.forms import (
    CandidateSearchForm,
    CreateChildForm,
    DismissForm,
    ForceChoiceForm,
    MappingForm,
    MatchForm,
    UploadForm,
)
from hub.models.missing import ImportStatus
from hub.models.people import Gender
from hub.permissions import may_administer, may_import, may_import_downloads, may_read_episodes
from hub.web import actor, apply_errors, personal_data, requires

bp = Blueprint("missing_import", __name__, url_prefix="/missing/import")



@bp.route("", methods=["GET", "POST"])
@requires(may_import_downloads)
def index():
    """Upload (police officers, for their own force) and the recent imports."""
    form = UploadForm()
    may_upload = may_import(actor())
    if may_upload and form.validate_on_submit():
        limits = Limits.from_env()
        data = form.file.data.read(limits.max_bytes + 1)
        # Queued for the worker (stored encrypted until its import ends; then only its SHA-256
        # is kept): the request returns at once and the batch page shows the progress.
        batch = import_batches.queue_file(actor(), data, form.file.data.filename or "", limits)
        return redirect(url_for("missing_import.batch", batch_id=batch.id))
    return render_template("missing/import/index.html", form=form, may_upload=may_upload,
                           batches=import_batches.recent_batches(actor()), limits=Limits.from_env())


@bp.route("/template.xlsx")
def template():
    """The blank download with its Guidance sheet (no personal data)."""
    return Response(import_mapping.template(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": 'attachment; filename="police-daily-download-template.xlsx"'})


@bp.route("/<int:batch_id>")
def batch(batch_id: int):
    """A batch's progress and then its summary and row errors (numbers and reasons: no values)."""
    found = import_batches.get_batch(actor(), batch_id)
    running = found.status in (ImportStatus.queued, ImportStatus.running)
    return render_template("missing/import/batch.html", batch=found, summary=import_batches.summary_of(found),
                           errors=import_batches.errors_of(found), running=running,
                           progress_text=import_batches.progress_text(found))


@bp.route("/<int:batch_id>/progress")
def progress(batch_id: int):
    """The batch page's live progress (hub/static/import-progress.js polls it): numbers, no values."""
    found = import_batches.get_batch(actor(), batch_id)
    return jsonify(status=found.status.value, rows_done=found.rows_done, rows_total=found.rows_total,
                   errors=import_batches.summary_of(found).get("errors", 0), text=import_batches.progress_text(found),
                   finished=found.status not in (ImportStatus.queued, ImportStatus.running))


@bp.route("/review")
@personal_data
def review():
    return render_template("missing/import/review.html", rows=import_review.review_queue(actor()))


def _search(form: CandidateSearchForm) -> import_review.CandidateSearch | None:
    if not request.args or not form.validate():
        return None
    return import_review.CandidateSearch(given_name=form.given_name.data or "", family_name=form.family_name.data or "",
                                   date_of_birth=form.date_of_birth.data, identifier=form.identifier.data or "")


def _show_item(item_id: int, match_form=None, create_form=None, dismiss_form=None, status: int = 200):
    row = import_review.get_review_item(actor(), item_id)
    search_form = CandidateSearchForm(request.args)
    search = _search(search_form)
    if search is not None and not search.given:
        search_form.form_errors.append("Enter an identifier, or the given name, family name and date of birth")
        search = None
    found = import_review.candidates(actor(), item_id, search)
    match_form = match_form or MatchForm()
    if search is not None:
        match_form.identifier.data = search.identifier
        match_form.given_name.data = search.given_name
        match_form.family_name.data = search.family_name
        match_form.date_of_birth.data = search.date_of_birth.isoformat() if search.date_of_birth else ""
    # The layout's error summary shows the errors of `form`: the one that was sent.
    sent = next((f for f in (match_form, create_form, dismiss_form) if f is not None and f.errors), None)
    return render_template(
        "missing/import/item.html", form=sent, row=row, search_form=search_form, searched=search is not None,
        candidates=found, match_form=match_form, create_form=create_form or CreateChildForm(prefix="create"),
        dismiss_form=dismiss_form or DismissForm(prefix="dismiss"),
        dismissed_because=import_review.dismissal_reason(item_id)
        if row.item.status.value == "dismissed" else None), status


@bp.route("/review/<int:item_id>")
@personal_data
def item(item_id: int):
    return _show_item(item_id)


def _posted_search(form: MatchForm) -> import_review.CandidateSearch:
    try:
        born = date.fromisoformat(form.date_of_birth.data) if form.date_of_birth.data else None
    except ValueError:
        born = None
    return import_review.CandidateSearch(given_name=form.given_name.data or "", family_name=form.family_name.data or "",
                                   date_of_birth=born, identifier=form.identifier.data or "")


def _after_resolving(episode_id: int):
    """To the episode for those who may read it (the force's officers), else back to the queue."""
    if may_read_episodes(actor()):
        return redirect(url_for("missing.show", episode_id=episode_id))
    return redirect(url_for("missing_import.review"))


@bp.route("/review/<int:item_id>/match", methods=["POST"])
def match(item_id: int):
    form = MatchForm()
    if form.validate_on_submit():
        try:
            episode = import_review.match_item(actor(), item_id, form.child_id.data, _posted_search(form))
            flash("The row is matched and applied: the episode is recorded and the child's school told.", "success")
            return _after_resolving(episode.id)
        except Invalid as exc:
            apply_errors(form, exc)
    return _show_item(item_id, match_form=form, status=400)


@bp.route("/review/<int:item_id>/create", methods=["POST"])
def create(item_id: int):
    form = CreateChildForm(prefix="create")  # prefixed: three forms share the page, ids must not repeat
    if form.validate_on_submit():
        try:
            episode = import_review.create_child_for_item(actor(), item_id, Gender(form.gender.data))
            flash("The child is created and the row applied: the episode is recorded.", "success")
            return _after_resolving(episode.id)
        except Invalid as exc:
            apply_errors(form, exc)
    return _show_item(item_id, create_form=form, status=400)


@bp.route("/review/<int:item_id>/dismiss", methods=["POST"])
def dismiss(item_id: int):
    form = DismissForm(prefix="dismiss")
    if form.validate_on_submit():
        try:
            import_review.dismiss_item(actor(), item_id, form.reason.data)
            flash("The row is dismissed.", "success")
            return redirect(url_for("missing_import.review"))
        except Invalid as exc:
            apply_errors(form, exc)
    return _show_item(item_id, dismiss_form=form, status=400)


@bp.route("/mapping", methods=["GET", "POST"])
@requires(may_administer)
def mapping():
    """A force's own column headings (administrators)."""
    forces = episode_reading.police_forces()
    choice = ForceChoiceForm(request.args)
    choice.force.choices = [(0, "Choose a force")] + [(f.id, f.name) for f in forces]
    force_id = choice.force.data if request.args.get("force") else None
    force = next((f for f in forces if f.id == force_id), None)
    form = MappingForm()
    if force is not None:
        if form.validate_on_submit():
            try:
                import_mapping.save_mapping(actor(), force.id, {c.field: getattr(form, c.field).data for c in COLUMNS})
                flash(f"The column headings of {force.name} are saved.", "success")
                return redirect(url_for("missing_import.mapping", force=force.id))
            except Invalid as exc:
                apply_errors(form, exc)
        elif not form.is_submitted():
            for field, heading in import_mapping.mapping_of(actor(), force.id).items():
                getattr(form, field).data = heading
    return render_template("missing/import/mapping.html", choice=choice, force=force, form=form, columns=COLUMNS)
