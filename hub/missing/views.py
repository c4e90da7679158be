"""Pages of hub.missing: the missing team's list, recording an episode, the episode with what is
due, and the Philomena profile (a thin blueprint: every rule is in service.py, rules.py and profiles/)."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, url_for

from hub.errors import Invalid
from hub.forms import london_to_utc, utc_to_london
from hub.missing import dashboard as missing_dashboard
from hub.missing import details as missing_details
from hub.missing import reading as episode_reading
from hub.missing import rules, service
from hub.missing.forms import TIMES, EpisodeForm, ProfileForm, ProgressForm, ReleaseForm
from hub.missing.profiles import service as profiles
from hub.missing.profiles.content import PHOTO_HELD
from hub.missing.profiles.photos import MAX_UPLOAD_BYTES
from hub.models.missing import Classification, MissingEpisode, MissingFrom, RiskGrade
from hub.models.people import Child
from hub.models.roles import OrgKind
from hub.notifications.inbox import status_for_episode
from hub.notifications.replies import replies_for_episode
from hub.people import service as people
from hub.permissions import may_record_episodes
from hub.sharing import reading as share_reading
from hub.web import actor, apply_errors, personal_data, requires

bp = Blueprint("missing", __name__, url_prefix="/missing")


@bp.route("")
@personal_data
def index():
    return render_template("missing/index.html", rows=missing_dashboard.dashboard(actor()))


@bp.route("/new/<int:child_id>", methods=["GET", "POST"])
@personal_data
@requires(may_record_episodes)
def new(child_id: int):
    child = people.get_child(actor(), child_id, purpose="record a missing episode")
    form = EpisodeForm()
    police = actor().organisation.kind == OrgKind.police
    form.police_org_id.choices = [(0, "Choose")] + [(f.id, f.name) for f in episode_reading.police_forces()]
    if form.validate_on_submit():
        try:
            episode = service.record_episode(actor(), child_id, missing_details.EpisodeDetails(
                police_reference=form.police_reference.data, police_org_id=form.police_org_id.data or None,
                reported_start=london_to_utc(form.reported_on.data, form.reported_time.data),
                classification=Classification(form.classification.data), risk_grade=RiskGrade(form.risk_grade.data),
                missing_from=MissingFrom(form.missing_from.data), missing_from_detail=form.missing_from_detail.data))
            flash("Episode recorded. The child's school has been notified.", "success")
            return redirect(url_for("missing.show", episode_id=episode.id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("missing/new.html", form=form, child=child, police=police)


def _progress_form(episode: MissingEpisode, child: Child) -> ProgressForm:
    form = ProgressForm()
    authorities = [(0, "Not recorded")] + [(o.id, o.name) for o in episode_reading.childrens_services()]
    form.receiving_authority_id.choices = authorities
    form.home_authority_id.choices = authorities
    form.return_interview_share_id.choices = [(0, "Not recorded")] + [
        (s.id, f"Share {s.id}: {s.summary}") for s in share_reading.chronology(actor(), child.id, per_page=None)
        if s.shared]
    if not form.is_submitted():
        for name, (day_field, time_field) in TIMES.items():
            day, hhmm = utc_to_london(getattr(episode, name))
            getattr(form, day_field).data, getattr(form, time_field).data = day, hhmm
        form.risk_grade.data = episode.risk_grade.value
        form.classification.data = episode.classification.value
        form.found_where.data = episode.found_where
        form.receiving_authority_id.data = episode.receiving_authority_id or 0
        form.home_authority_id.data = episode.home_authority_id or 0
        form.prevention_check_by.data = episode.prevention_check_by
        form.return_interview_by.data = episode.return_interview_by
        form.return_interview_declined.data = episode.return_interview_declined
        form.return_interview_share_id.data = episode.return_interview_share_id or 0
        form.police_requested_meeting.data = episode.police_requested_meeting
        for name in rules.FACTOR_LISTS:
            getattr(form, name).data = sorted(episode.codes(name))
    return form


def _changes(form: ProgressForm) -> missing_details.EpisodeChanges:
    times = {name: london_to_utc(getattr(form, d).data, getattr(form, t).data) for name, (d, t) in TIMES.items()}
    return missing_details.EpisodeChanges(
        risk_grade=RiskGrade(form.risk_grade.data) if form.risk_grade.data else None,
        classification=Classification(form.classification.data) if form.classification.data else None,
        found_where=form.found_where.data or None,
        receiving_authority_id=form.receiving_authority_id.data or None,
        home_authority_id=form.home_authority_id.data or None,
        prevention_check_by=form.prevention_check_by.data or None,
        return_interview_by=form.return_interview_by.data or None,
        return_interview_declined=form.return_interview_declined.data,
        return_interview_share_id=form.return_interview_share_id.data or None,
        police_requested_meeting=form.police_requested_meeting.data,
        risk_factors=set(form.risk_factors.data or []), push_factors=set(form.push_factors.data or []),
        pull_factors=set(form.pull_factors.data or []), **times)


@bp.route("/<int:episode_id>", methods=["GET", "POST"])
@personal_data
def show(episode_id: int):
    episode = episode_reading.get_episode(actor(), episode_id)
    child = people.get_child(actor(), episode.child_id, purpose="missing episode")
    form = _progress_form(episode, child)
    if form.validate_on_submit():
        try:
            service.update_episode(actor(), episode_id, _changes(form))
            flash("Episode updated.", "success")
            return redirect(url_for("missing.show", episode_id=episode_id))
        except Invalid as exc:
            apply_errors(form, exc)
    statuses = status_for_episode(actor(), episode)
    replies = replies_for_episode(actor(), episode)  # what schools told the police
    return render_template("missing/show.html", episode=episode, child=child, form=form,
                           assessment=episode_reading.assess(episode), statuses=statuses, replies=replies, rules=rules,
                           releases=profiles.releases(episode_id), release_form=ReleaseForm(),
                           may_release=profiles.may_keep_profile(actor(), child))


@bp.route("/profile/<int:child_id>", methods=["GET", "POST"])
@personal_data
def profile(child_id: int):
    child = people.get_child(actor(), child_id, purpose="Philomena protocol profile")
    current = profiles.get_profile(actor(), child_id)
    form = ProfileForm()
    if not form.is_submitted() and current is not None:
        for name in profiles.PROFILE_FIELDS:
            getattr(form, name).data = getattr(current, name)
    if form.validate_on_submit():
        try:
            profiles.save_profile(actor(), child_id,
                                  {name: getattr(form, name).data for name in profiles.PROFILE_FIELDS},
                                  _photo_change(form))
            flash("Profile saved. It stays with the child's authority until it is released to the police.", "success")
            return redirect(url_for("missing.profile", child_id=child_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("missing/profile.html", form=form, child=child, profile=current,
                           parts=profiles.PROFILE_PARTS)


def _photo_change(form: ProfileForm) -> profiles.PhotoChange:
    """The upload as sent (read at most one byte past the limit: the service refuses it whole)."""
    upload = form.photo.data
    data = upload.stream.read(MAX_UPLOAD_BYTES + 1) if upload and upload.filename else None
    return profiles.PhotoChange(upload=data, remove=bool(form.remove_photo.data))


@bp.route("/profile/<int:child_id>/photo")
@personal_data
def profile_photo(child_id: int):
    """The photo, to those who may see the profile; never cached. A profile without a photo
    answers with a placeholder, so an image on a page never breaks."""
    photo = profiles.get_profile_photo(actor(), child_id)
    response = make_response(photo if photo is not None else NO_PHOTO_SVG)
    response.mimetype = "image/jpeg" if photo is not None else "image/svg+xml"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    return response


NO_PHOTO_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="240" height="60"><text x="10" y="35" '
                b'font-family="sans-serif" font-size="16">No photo kept</text></svg>')


@bp.route("/<int:episode_id>/profile")
@personal_data
def released_profile(episode_id: int):
    """The profile as released to the police for this episode, in the protocol's sections."""
    episode = episode_reading.get_episode(actor(), episode_id)
    share = profiles.released_profile(actor(), episode_id)
    parts = profiles.released_sections(share.content or "") if share is not None else []
    has_photo = any(s.label == profiles.PHOTO_LABEL and s.text == PHOTO_HELD for p in parts for s in p.sections)
    return render_template("missing/profile_released.html", episode=episode, share=share, parts=parts,
                           has_photo=has_photo)


@bp.route("/<int:episode_id>/release-profile", methods=["POST"])
def release_profile(episode_id: int):
    form = ReleaseForm()
    if form.validate_on_submit():
        try:
            profiles.release_profile(actor(), episode_id)
            flash("Profile released to the police as a share record.", "success")
            return redirect(url_for("missing.released_profile", episode_id=episode_id))
        except Invalid as exc:
            flash(" ".join(exc.errors.values()), "error")
    return redirect(url_for("missing.show", episode_id=episode_id))
