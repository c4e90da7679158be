"""Children's pages: find a child, see their record. Thin: the service checks and audits.

A child's record gathers every feature's part of it (shares, consent, missing episodes, the
Philomena profile), so its page stands above those packages, which all read hub.people: not in
hub/people/, where it would close a circle. The blueprint keeps its name, `people`."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hub.consent import service as consent
from hub.consent.forms import WithdrawForm
from hub.errors import Invalid, NotFound
from hub.missing import reading as episode_reading
from hub.missing.profiles import service as profiles
from hub.models.people import BreakGlassCategory
from hub.people import service
from hub.people.forms import BreakGlassForm, ChildSearchForm
from hub.permissions import may_record_episodes, may_review_child_audit
from hub.sharing import reading as share_reading
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("people", __name__, url_prefix="/children")


@bp.route("")
@personal_data
def index():
    form = ChildSearchForm(request.args)
    search = service.ChildSearch(page=request.args.get("page", 1, type=int))
    if request.args and form.validate():
        search.name = form.name.data or ""
        search.date_of_birth = form.date_of_birth.data
        search.identifier = form.identifier.data or ""
    result = service.find_children(actor(), search)
    return render_template("people/index.html", form=form, result=result)


@bp.route("/<int:child_id>")
@personal_data
def show(child_id: int):
    try:
        child = service.get_child(actor(), child_id, purpose="view record")
    except NotFound:
        # The same page whether the child exists or not; it offers emergency access.
        return render_template("people/not_found.html", child_id=child_id), 404
    shares = share_reading.chronology(actor(), child_id, page=request.args.get("page", 1, type=int))
    return render_template("people/show.html", child=child, shares=shares, superseded_ids=shares.superseded,
                           consents=consent.consents_for(actor(), child_id), withdraw=WithdrawForm(),
                           episodes=episode_reading.episodes_of(actor(), child_id),
                           records_episodes=may_record_episodes(actor()),
                           keeps_profile=profiles.may_keep_profile(actor(), child),
                           reviews_audit=may_review_child_audit(actor(), child_id))


@bp.route("/<int:child_id>/break-glass", methods=["GET", "POST"])
def break_glass(child_id: int):
    form = BreakGlassForm()
    if form.validate_on_submit():
        try:
            service.break_glass(actor(), child_id, BreakGlassCategory(form.category.data), form.reason.data)
            flash("Emergency access for one hour. The data protection officer will review it.", "success")
            return redirect(url_for("people.show", child_id=child_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("people/break_glass.html", form=form, child_id=child_id)


@bp.route("/emergency-access/<int:user_id>")
@personal_data
def emergency_access(user_id: int):
    """A user's emergency access and their reasons, for the DPO reviewing a break-glass flag."""
    person, grants, children = service.emergency_access_of(actor(), user_id)
    return render_template("people/emergency_access.html", person=person, grants=grants, children=children)
