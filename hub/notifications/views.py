"""The school's inbox: notifications of missing episodes, each opened and acknowledged by a key
adult, who may also reply to the police from it; and school closures, a school DSL's own INSET
days here and every closure on the administrators' page (a thin blueprint: the rules are in
inbox.py, replies.py and closures.py)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from hub.auth import organisations as auth_organisations
from hub.auth.forms import ConfirmForm
from hub.db import utcnow
from hub.errors import Invalid
from hub.forms import london_to_utc, utc_to_london
from hub.models.notifications import ClosureKind
from hub.models.roles import OrgKind
from hub.notifications import closures as school_closures
from hub.notifications import inbox, replies
from hub.notifications.forms import AcknowledgeForm, ClosureForm, PassOnInformationForm, SeenAtSchoolForm
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.route("")
@personal_data
def index():
    return render_template("notifications/index.html", items=inbox.inbox(actor()))


def _reply_forms(seen: SeenAtSchoolForm | None = None, info: PassOnInformationForm | None = None):
    """The two reply forms; a deputy chooses the DSL who authorised the reply."""
    if seen is None:  # not the form being sent: blank, with the time seen defaulting to now
        seen = SeenAtSchoolForm(prefix="seen", formdata=None)
        seen.seen_on.data, seen.seen_time.data = utc_to_london(utcnow())
    info = info or PassOnInformationForm(prefix="info", formdata=None)
    self_authorised = replies.may_authorise_reply(actor())
    choices = [] if self_authorised else [(u.id, u.name) for u in replies.reply_authorisers(actor())]
    for form in (seen, info):
        form.authorised_by_user_id.choices = choices
    return seen, info, self_authorised


def _show(notification, form=None, **forms):
    """The notification page; `form` is the one with errors (the layout's error summary reads it)."""
    ack = forms.get("ack") or AcknowledgeForm()
    seen, info, self_authorised = _reply_forms(forms.get("seen"), forms.get("info"))
    return render_template("notifications/show.html", item=inbox.item(notification), form=form or ack,
                           ack_form=ack, seen_form=seen, info_form=info, self_authorised=self_authorised,
                           replies=replies.replies_from_school(actor(), notification))


def _submit(notification, form, name: str, act, done: str):
    """One of the notification page's forms: on a valid post, the service call `act` and back to
    the page with `done`; otherwise the page again, this form showing its errors."""
    if form.validate_on_submit():
        try:
            act(form)
            flash(done, "success")
            return redirect(url_for("notifications.show", notification_id=notification.id))
        except Invalid as exc:
            apply_errors(form, exc)
    return _show(notification, form, **{name: form})


@bp.route("/<int:notification_id>", methods=["GET", "POST"])
@personal_data
def show(notification_id: int):
    notification = inbox.open_notification(actor(), notification_id)  # the 404 before any form is read
    return _submit(notification, AcknowledgeForm(), "ack",
                   lambda f: inbox.acknowledge(actor(), notification_id, f.school_action.data),
                   "Acknowledged. The missing team can see that the school has it.")


@bp.route("/<int:notification_id>/seen-at-school", methods=["POST"])
@personal_data
def seen_at_school(notification_id: int):
    notification = inbox.open_notification(actor(), notification_id)
    form = SeenAtSchoolForm(prefix="seen")
    _reply_forms(seen=form)
    return _submit(notification, form, "seen", lambda f: replies.reply_seen_at_school(
        actor(), notification_id, london_to_utc(f.seen_on.data, f.seen_time.data), f.note.data,
        f.authorised_by_user_id.data or None),
        "The police have been told the child is at school, recorded as a share.")


@bp.route("/<int:notification_id>/information", methods=["POST"])
@personal_data
def pass_on_information(notification_id: int):
    notification = inbox.open_notification(actor(), notification_id)
    form = PassOnInformationForm(prefix="info")
    _reply_forms(info=form)
    return _submit(notification, form, "info", lambda f: replies.reply_information(
        actor(), notification_id, f.information.data, f.authorised_by_user_id.data or None),
        "Passed on to the police, recorded as a share.")


# --- school closures (a school DSL's own INSET days; the administrators' page, hub.admin.views) ---

def closure_page(form, *, admin: bool, org_id: int | None, start_form=None):
    """The closures page, for an administrator (every school and authority) or a school's DSL
    (their own school): shared by this blueprint and hub.admin.views."""
    owners = school_closures.closure_owners(actor())
    form.organisation_id.choices = [(o.id, f"{o.name} ({o.kind.label})") for o in owners]
    if not admin:
        form.kind.choices = [(ClosureKind.inset.value, "INSET (training) day")]
    if not form.is_submitted() and org_id:
        form.organisation_id.data = org_id
    chosen = auth_organisations.get_organisation(org_id) if admin and org_id else None
    if start_form is not None and chosen is not None and not start_form.is_submitted():
        start_form.school_day_start.data = chosen.school_day_start
    organisations = {o.id: o for o in auth_organisations.organisations()}
    return render_template("notifications/closures.html", form=form, admin=admin, owners=owners, org_id=org_id,
                           chosen=chosen, start_form=start_form if chosen is not None and
                           chosen.kind == OrgKind.school else None, organisations=organisations,
                           closures=school_closures.closures(actor(), org_id if admin else None),
                           may_change=lambda c: school_closures.may_change_closure(actor(), c), confirm=ConfirmForm())


@bp.route("/closures", methods=["GET", "POST"])
def closures():
    form = ClosureForm()
    if form.validate_on_submit():
        try:
            school_closures.add_closure(actor(), actor().organisation_id, form.kind.data, form.first_day.data,
                                        form.last_day.data, form.description.data)
            flash("INSET day added: deadlines worked out from now on skip it.", "success")
            return redirect(url_for("notifications.closures"))
        except Invalid as exc:
            apply_errors(form, exc)
    return closure_page(form, admin=False, org_id=None)


@bp.route("/closures/<int:closure_id>/remove", methods=["POST"])
def remove_closure(closure_id: int):
    if ConfirmForm().validate_on_submit():
        school_closures.remove_closure(actor(), closure_id)
        flash("INSET day removed.", "success")
    return redirect(url_for("notifications.closures"))
