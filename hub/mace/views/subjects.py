"""MACE pages: a group's subjects (locations, persons or peer groups of concern, links), its
intelligence, and the network around a subject. Thin: parse the form, call one service function."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from hub.errors import Invalid
from hub.mace.forms.subjects import (
    IntelligenceForm,
    LinkForm,
    LocationForm,
    PersonForm,
    RejustifyForm,
    RemoveForm,
)
from hub.mace.operations import intelligence, network, subjects
from hub.sharing import gateways as share_gateways
from hub.sharing import legal_bases
from hub.sharing import service as sharing
from hub.sharing.forms import share_draft
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("mace_subjects", __name__, url_prefix="/mace")


# --- locations ----------------------------------------------------------------------------------------

def _location_details(form: LocationForm) -> subjects.LocationDetails:
    return subjects.LocationDetails(name=form.name.data, kind=form.kind.data, address=form.address.data,
                                    postcode=form.postcode.data, grid_reference=form.grid_reference.data)


@bp.route("/groups/<int:group_id>/locations")
@personal_data
def locations(group_id: int):
    group, found = subjects.locations(actor(), group_id)
    return render_template("mace/locations.html", group=group, locations=found)


@bp.route("/groups/<int:group_id>/locations/new", methods=["GET", "POST"])
@personal_data
def new_location(group_id: int):
    choices = subjects.subject_choices(actor(), group_id, purpose="add a location")
    form = LocationForm()
    if form.validate_on_submit():
        try:
            location = subjects.add_location(actor(), group_id, _location_details(form))
            flash("Place added.", "success")
            return redirect(url_for("mace_subjects.location", location_id=location.id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("mace/location_form.html", form=form, group=choices.group, location=None)


@bp.route("/locations/<int:location_id>")
@personal_data
def location(location_id: int):
    page = subjects.location_page(actor(), location_id)
    return render_template("mace/location.html", page=page, location=page.subject)


@bp.route("/locations/<int:location_id>/edit", methods=["GET", "POST"])
@personal_data
def edit_location(location_id: int):
    place = subjects.location_for_edit(actor(), location_id)
    form = LocationForm(obj=None if request.method == "POST" else place)
    if request.method == "GET":
        form.kind.data = place.kind.value
    if form.validate_on_submit():
        try:
            subjects.update_location(actor(), location_id, _location_details(form))
            flash("Place updated.", "success")
            return redirect(url_for("mace_subjects.location", location_id=location_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("mace/location_form.html", form=form, group=None, location=place)


# --- persons or peer groups of concern ------------------------------------------------------------

@bp.route("/groups/<int:group_id>/persons")
@personal_data
def persons(group_id: int):
    group, found = subjects.persons(actor(), group_id)
    return render_template("mace/persons.html", group=group, persons=found, review_due=subjects.review_due)


@bp.route("/groups/<int:group_id>/persons/new", methods=["GET", "POST"])
@personal_data
def new_person(group_id: int):
    choices = subjects.subject_choices(actor(), group_id, purpose="add a person of concern")
    form = PersonForm()
    if form.validate_on_submit():
        try:
            person = subjects.add_person(actor(), group_id, subjects.PersonDetails(
                kind=form.kind.data, name=form.name.data, legal_basis=form.legal_basis.data,
                justification=form.justification.data, review_on=form.review_on.data,
                description=form.description.data, aliases=form.aliases.data, vehicles=form.vehicles.data,
                phone_numbers=form.phone_numbers.data, online_handles=form.online_handles.data))
            flash("Record added.", "success")
            return redirect(url_for("mace_subjects.person", person_id=person.id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("mace/person_form.html", form=form, group=choices.group)


@bp.route("/persons/<int:person_id>")
@personal_data
def person(person_id: int):
    page = subjects.person_page(actor(), person_id)
    return render_template("mace/person.html", page=page, person=page.subject, bases=legal_bases.BY_CODE,
                           due=subjects.review_due(page.subject), rejustify=RejustifyForm(), remove=RemoveForm())


@bp.route("/persons/<int:person_id>/rejustify", methods=["POST"])
def rejustify_person(person_id: int):
    form = RejustifyForm()
    if form.validate_on_submit():
        try:
            subjects.rejustify_person(actor(), person_id, form.justification.data, form.review_on.data)
            flash("Record kept, with its new review date.", "success")
        except Invalid as exc:
            flash(next(iter(exc.errors.values())), "error")
    else:
        flash(next(iter(form.errors.values()))[0] if form.errors else "Enter the new review date", "error")
    return redirect(url_for("mace_subjects.person", person_id=person_id))


@bp.route("/persons/<int:person_id>/remove", methods=["POST"])
def remove_person(person_id: int):
    if RemoveForm().validate_on_submit():
        try:
            person = subjects.remove_person(actor(), person_id)
            flash("Record removed.", "success")
            return redirect(url_for("mace_subjects.persons", group_id=person.group_id))
        except Invalid as exc:
            flash(next(iter(exc.errors.values())), "error")
    return redirect(url_for("mace_subjects.person", person_id=person_id))


# --- links ---------------------------------------------------------------------------------------------

@bp.route("/groups/<int:group_id>/links/new", methods=["GET", "POST"])
@personal_data
def new_link(group_id: int):
    choices = subjects.subject_choices(actor(), group_id, purpose="link subjects")
    form = LinkForm()
    form.child_id.choices = [(0, "None")] + [(c.id, c.full_name) for c in choices.children]
    form.location_id.choices = [(0, "None")] + [(loc.id, loc.name) for loc in choices.locations]
    form.person_id.choices = [(0, "None")] + [(p.id, p.name) for p in choices.persons]
    if request.method == "GET":
        for name in ("child_id", "location_id", "person_id"):
            getattr(form, name).data = request.args.get(name, 0, type=int)
    if form.validate_on_submit():
        try:
            subjects.add_link(actor(), group_id, subjects.LinkDetails(
                source=form.source.data, seen_on=form.seen_on.data, child_id=form.child_id.data or None,
                location_id=form.location_id.data or None, person_id=form.person_id.data or None))
            flash("Link added.", "success")
            # Back to the place or person the link was made from, where it now shows.
            if form.location_id.data:
                return redirect(url_for("mace_subjects.location", location_id=form.location_id.data))
            if form.person_id.data:
                return redirect(url_for("mace_subjects.person", person_id=form.person_id.data))
            return redirect(url_for("mace_subjects.locations", group_id=group_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("mace/subject_link_form.html", form=form, group=choices.group)


# --- intelligence -------------------------------------------------------------------------------------

@bp.route("/groups/<int:group_id>/intelligence")
@personal_data
def intelligence_list(group_id: int):
    return render_template("mace/intelligence_list.html", page=intelligence.group_intelligence(actor(), group_id))


@bp.route("/groups/<int:group_id>/intelligence/new", methods=["GET", "POST"])
@personal_data
def new_intelligence(group_id: int):
    choices = subjects.subject_choices(actor(), group_id, purpose="share intelligence")
    form = IntelligenceForm()
    form.child_ids.choices = [(c.id, c.full_name) for c in choices.children]
    form.location_ids.choices = [(loc.id, loc.name) for loc in choices.locations]
    form.person_ids.choices = [(p.id, p.name) for p in choices.persons]
    form.consent_record_id.choices = [(0, "None")]
    form.authorised_by_user_id.choices = [(0, "Choose")] + [(u.id, u.name) for u in sharing.authorisers(actor())]
    form.gateway.choices = [("", "Choose")] + [(b.code, b.label) for b in share_gateways.gateways()]
    if form.validate_on_submit():
        try:
            share = intelligence.share_intelligence(actor(), group_id, share_draft(form, None), intelligence.Subjects(
                list(form.child_ids.data or []), list(form.location_ids.data or []), list(form.person_ids.data or [])))
            flash("Shared with the group's member agencies.", "success")
            return redirect(url_for("mace_subjects.intelligence_item", intelligence_id=share.id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("mace/intelligence_form.html", form=form, group=choices.group, bases=legal_bases)


@bp.route("/intelligence/<int:intelligence_id>")
@personal_data
def intelligence_item(intelligence_id: int):
    return render_template("mace/intelligence_item.html", item=intelligence.intelligence_item(actor(), intelligence_id))


# --- the network --------------------------------------------------------------------------------------

@bp.route("/network/<subject_kind>/<int:subject_id>")
@personal_data
def network_page(subject_kind: str, subject_id: int):
    if subject_kind not in ("child", "location", "person"):
        abort(404)
    page = network.network(actor(), subject_kind, subject_id, request.args.get("group_id", type=int))
    return render_template("mace/network.html", page=page)
