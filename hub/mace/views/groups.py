"""MACE groups: the member's list of groups, a group's page, and its membership (chair, admin)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_login import current_user

from hub.errors import Invalid
from hub.mace import service
from hub.mace.forms.groups import AddMemberForm, EndMembershipForm
from hub.models.mace import MemberRole
from hub.permissions import is_chairing, may_manage_mace_membership, sits_on_a_mace_group
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("mace", __name__, url_prefix="/mace")


@bp.app_context_processor
def _menu() -> dict:
    return {"is_mace_member": is_mace_member}


def is_mace_member() -> bool:
    """Whether the signed-in user sits on any MACE group today (the menu and the home page ask),
    worked out once a request."""
    if "is_mace_member" not in g:
        g.is_mace_member = current_user.is_authenticated and sits_on_a_mace_group(current_user._get_current_object())
    return g.is_mace_member


@bp.route("")
@personal_data
def index():
    return render_template("mace/index.html", groups=service.my_groups(actor()))


@bp.route("/groups/<int:group_id>")
@personal_data
def group(group_id: int):
    page = service.group_page(actor(), group_id)
    return render_template("mace/group.html", page=page, may_manage=may_manage_mace_membership(actor(), group_id),
                           chairing=is_chairing(page.membership), end_form=EndMembershipForm())


@bp.route("/groups/<int:group_id>/members/new", methods=["GET", "POST"])
@personal_data
def add_member(group_id: int):
    form = AddMemberForm()
    form.user_id.choices = [(0, "Choose a person")] + [
        (u.id, f"{u.name}, {u.organisation.name}") for u in service.candidates(actor(), group_id)]
    group, _ = service.group_for(actor(), group_id, manage_membership=True)
    if form.validate_on_submit():
        try:
            service.add_member(actor(), group_id, service.MemberDetails(
                user_id=form.user_id.data or None, role=MemberRole(form.role.data), start_date=form.start_date.data))
            flash("Member added.", "success")
            return redirect(url_for("mace.group", group_id=group_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("mace/add_member.html", form=form, group=group)


@bp.route("/members/<int:member_id>/end", methods=["POST"])
def end_membership(member_id: int):
    form = EndMembershipForm()
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()))[0] if form.errors else "Enter the date the membership ends", "error")
        return redirect(url_for("mace.index"))
    try:
        member = service.end_membership(actor(), member_id, form.end_date.data)
        flash("Membership ended.", "success")
        return redirect(url_for("mace.group", group_id=member.group_id))
    except Invalid as exc:
        flash(next(iter(exc.errors.values())), "error")
        return redirect(url_for("mace.index"))
