"""Administration pages: organisations, users, roles, single sign-on, children and enrolments."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hub.admin import service
from hub.admin.forms import LocalGatewayForm, NewUserForm, OrganisationForm, SsoForm, UserForm
from hub.auth import initial_passwords
from hub.auth import organisations as auth_organisations
from hub.auth.forms import ConfirmForm
from hub.errors import Invalid
from hub.models.people import Gender, IdentifierKind
from hub.models.roles import OrgKind, Role
from hub.notifications import closures as school_closures
from hub.notifications import delivery
from hub.notifications.forms import ClosureForm, SchoolDayStartForm
from hub.notifications.views import closure_page
from hub.people import service as people_service
from hub.people.forms import ChildForm, EnrolmentForm
from hub.permissions import may_administer
from hub.sharing import gateways as share_gateways
from hub.sharing import legal_bases
from hub.web import actor, apply_errors, personal_data, requires

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@requires(may_administer)
def _admins_only():
    return None


@bp.route("")
def index():
    return render_template("admin/index.html")


# --- organisations ------------------------------------------------------------------------------

def _org_form(form: OrganisationForm) -> OrganisationForm:
    las = (auth_organisations.organisations(OrgKind.childrens_social_care)
           + auth_organisations.organisations(OrgKind.la_education))
    form.local_authority_id.choices = [(0, "None")] + [(o.id, o.name) for o in las]
    return form


def _org_details(form: OrganisationForm) -> service.OrganisationDetails:
    return service.OrganisationDetails(
        code=form.code.data, name=form.name.data, kind=OrgKind(form.kind.data), identifier=form.identifier.data,
        local_authority_id=form.local_authority_id.data or None, school_day_start=form.school_day_start.data,
        working_hours_start=form.working_hours_start.data, working_hours_end=form.working_hours_end.data,
    )


@bp.route("/organisations")
def organisations():
    return render_template("admin/organisations.html", organisations=auth_organisations.organisations())


@bp.route("/organisations/new", methods=["GET", "POST"])
def new_organisation():
    form = _org_form(OrganisationForm())
    if form.validate_on_submit():
        try:
            org = service.create_organisation(actor(), _org_details(form))
            flash(f"{org.name} added.", "success")
            return redirect(url_for("admin.organisations"))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("admin/organisation_form.html", form=form, org=None)


@bp.route("/organisations/<int:org_id>", methods=["GET", "POST"])
def edit_organisation(org_id: int):
    org = auth_organisations.get_organisation(org_id)
    form = _org_form(OrganisationForm(obj=org if request.method == "GET" else None))
    if request.method == "GET":
        form.kind.data = org.kind.value
        form.local_authority_id.data = org.local_authority_id or 0
    if form.validate_on_submit():
        try:
            service.update_organisation(actor(), org_id, _org_details(form))
            flash(f"{org.name} saved.", "success")
            return redirect(url_for("admin.organisations"))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("admin/organisation_form.html", form=form, org=org)


@bp.route("/organisations/<int:org_id>/sso", methods=["GET", "POST"])
def sso_settings(org_id: int):
    org = auth_organisations.get_organisation(org_id)
    provider = auth_organisations.sso_provider_for(org_id)
    form = SsoForm(obj=provider if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            service.set_sso(actor(), org_id, form.issuer.data, form.client_id.data, form.client_secret.data)
            flash(f"Single sign-on saved for {org.name}.", "success")
            return redirect(url_for("admin.organisations"))
        except Invalid as exc:
            apply_errors(form, exc)
    callback = url_for("sso.callback", org_code=org.code, _external=True)
    return render_template("admin/sso_form.html", form=form, org=org, provider=provider, callback=callback)


# --- users --------------------------------------------------------------------------------------

def _user_form(form: UserForm) -> UserForm:
    form.organisation_id.choices = [(o.id, o.name) for o in auth_organisations.organisations()]
    return form


def _user_details(form: UserForm) -> service.UserDetails:
    return service.UserDetails(
        email=form.email.data, name=form.name.data, organisation_id=form.organisation_id.data,
        roles={Role(r) for r in form.roles.data or []},
    )


@bp.route("/users")
@personal_data
def users():
    org_id = request.args.get("organisation", type=int)
    return render_template("admin/users.html", users=service.users(actor(), org_id),
                           organisations=auth_organisations.organisations(), org_id=org_id, form=ConfirmForm())


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = _user_form(NewUserForm())
    if form.validate_on_submit():
        try:
            if form.sso_only.data:
                user = service.create_user(actor(), _user_details(form))
                flash(f"Account created for {user.name}. They sign in through their organisation's provider.",
                      "success")
                return redirect(url_for("admin.users"))
            issued = service.create_user_with_initial_password(actor(), _user_details(form))
            return _show_initial_password(issued, created=True)
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("admin/user_form.html", form=form, user=None)


def _show_initial_password(issued: service.IssuedPassword, created: bool):
    """The only time the password is shown: in the answer to the POST itself, never in the session
    cookie or a page that can be opened again (and `no-store`, as every page)."""
    return render_template("admin/initial_password.html", issued=issued, created=created)


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
def reset_password(user_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            return _show_initial_password(service.reset_password(actor(), user_id), created=False)
        except Invalid as exc:
            flash(str(exc), "error")
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@personal_data
def edit_user(user_id: int):
    user = service.get_user(actor(), user_id)
    form = _user_form(UserForm(obj=user if request.method == "GET" else None))
    if request.method == "GET":
        form.roles.data = sorted(r.value for r in user.roles)
    if form.validate_on_submit():
        try:
            service.update_user(actor(), user_id, _user_details(form))
            flash(f"{user.name}'s account saved.", "success")
            return redirect(url_for("admin.users"))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("admin/user_form.html", form=form, user=user, confirm=ConfirmForm(),
                           initial_hours=int(initial_passwords.LIFETIME.total_seconds() // 3600))


@bp.route("/users/<int:user_id>/<any(deactivate, activate, 'reset-two-factor'):change>", methods=["POST"])
def change_user(user_id: int, change: str):
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            if change == "reset-two-factor":
                service.reset_second_factor(actor(), user_id)
                flash("Two-factor sign-in reset: they set it up again next time they sign in.", "success")
            else:
                user = service.set_user_active(actor(), user_id, change == "activate")
                flash(f"{user.name}'s account {'activated' if user.active else 'deactivated'}.", "success")
        except Invalid as exc:
            flash(str(exc), "error")
    return redirect(url_for("admin.edit_user", user_id=user_id))


# --- children and enrolments --------------------------------------------------------------------

@bp.route("/children/new", methods=["GET", "POST"])
def new_child():
    form = ChildForm()
    authorities = [(0, "None")] + [
        (o.id, o.name) for o in auth_organisations.organisations(OrgKind.childrens_social_care)]
    form.responsible_authority_id.choices = authorities
    form.placing_authority_id.choices = authorities
    if form.validate_on_submit():
        details = people_service.ChildDetails(
            given_name=form.given_name.data, family_name=form.family_name.data,
            date_of_birth=form.date_of_birth.data, gender=Gender(form.gender.data),
            looked_after=form.looked_after.data,
            responsible_authority_id=form.responsible_authority_id.data or None,
            placing_authority_id=form.placing_authority_id.data or None,
            identifiers={kind: getattr(form, kind.value).data for kind in IdentifierKind},
        )
        try:
            child = people_service.create_child(actor(), details)
            flash("Child added. Now add their school.", "success")
            return redirect(url_for("admin.enrolments", child_id=child.id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("admin/child_form.html", form=form)


@bp.route("/children/<int:child_id>/enrolments", methods=["GET", "POST"])
@personal_data
def enrolments(child_id: int):
    child = people_service.get_child(actor(), child_id, purpose="manage enrolments")
    form = EnrolmentForm()
    form.school_id.choices = [(o.id, o.name) for o in auth_organisations.organisations(OrgKind.school)]
    if form.validate_on_submit():
        try:
            people_service.add_enrolment(actor(), child_id, form.school_id.data, form.start_date.data)
            flash("Enrolment added.", "success")
            return redirect(url_for("admin.enrolments", child_id=child_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("admin/enrolments.html", child=child, form=form, confirm=ConfirmForm())


@bp.route("/children/<int:child_id>/enrolments/<int:enrolment_id>/end", methods=["POST"])
def end_enrolment(child_id: int, enrolment_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            people_service.end_enrolment(actor(), enrolment_id, date.today())
            flash("Enrolment ended today.", "success")
        except Invalid as exc:
            flash(str(exc), "error")
    return redirect(url_for("admin.enrolments", child_id=child_id))


# --- local statutory gateways -------------------------------------------------------------------

@bp.route("/gateways", methods=["GET", "POST"])
def gateways():
    form = LocalGatewayForm()
    if form.validate_on_submit():
        try:
            gateway = share_gateways.add_local_gateway(actor(), form.code.data, form.label.data, form.explanation.data)
            flash(f"Added {gateway.code}: practitioners can now choose it in the share form.", "success")
            return redirect(url_for("admin.gateways"))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("admin/gateways.html", form=form, national=legal_bases.GATEWAYS,
                           local=share_gateways.local_gateways(include_retired=True), confirm=ConfirmForm())


@bp.route("/gateways/<int:gateway_id>/<any(retire, restore):change>", methods=["POST"])
def change_gateway(gateway_id: int, change: str):
    if ConfirmForm().validate_on_submit():
        gateway = share_gateways.set_local_gateway_active(actor(), gateway_id, change == "restore")
        flash(f"{gateway.code} {'brought back' if gateway.active else 'retired: earlier shares keep it'}.", "success")
    return redirect(url_for("admin.gateways"))


# --- e-mail outbox: undelivered and failed messages -----------------------------------------------

@bp.route("/outbox")
@personal_data
def outbox():
    return render_template("admin/outbox.html", outbox=delivery.undelivered(actor()),
                           max_attempts=delivery.MAX_ATTEMPTS, confirm=ConfirmForm())


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
def retry_message(message_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            delivery.retry(actor(), message_id)
            flash(f"Message {message_id} will be sent again by the next delivery run.", "success")
        except Invalid as exc:
            flash(str(exc), "error")
    return redirect(url_for("admin.outbox"))


# --- school closures (term dates, INSET days) and the school day's start ---------------------------

@bp.route("/closures", methods=["GET", "POST"])
def closures():
    org_id = request.args.get("organisation", type=int) or None
    form = ClosureForm()
    if form.validate_on_submit():
        try:
            closure = school_closures.add_closure(actor(), form.organisation_id.data, form.kind.data,
                                                  form.first_day.data, form.last_day.data, form.description.data)
            flash("Closure added: deadlines worked out from now on skip it.", "success")
            return redirect(url_for("admin.closures", organisation=closure.organisation_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return closure_page(form, admin=True, org_id=org_id, start_form=SchoolDayStartForm(formdata=None))


@bp.route("/closures/<int:closure_id>/remove", methods=["POST"])
def remove_closure(closure_id: int):
    if ConfirmForm().validate_on_submit():
        school_closures.remove_closure(actor(), closure_id)
        flash("Closure removed.", "success")
    return redirect(url_for("admin.closures", organisation=request.args.get("organisation", type=int)))


@bp.route("/closures/start-time/<int:org_id>", methods=["POST"])
def school_day_start(org_id: int):
    form = SchoolDayStartForm()
    if form.validate_on_submit():
        try:
            org = service.set_school_day_start(actor(), org_id, form.school_day_start.data)
            flash(f"{org.name}'s school day starts at {org.school_day_start or '08:30 (the default)'}.", "success")
        except Invalid as exc:
            flash(" ".join(exc.errors.values()), "error")
    else:
        flash("Enter the school day start as HH:MM, like 08:30", "error")
    return redirect(url_for("admin.closures", organisation=org_id))
