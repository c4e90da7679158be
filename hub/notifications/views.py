"""The school's inbox: notifications of missing episodes, each opened and acknowledged by a key
adult (a thin blueprint: the rules are in service.py)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from hub.errors import Invalid
from hub.notifications import service
from hub.notifications.forms import AcknowledgeForm
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.route("")
@personal_data
def index():
    return render_template("notifications/index.html", items=service.inbox(actor()))


@bp.route("/<int:notification_id>", methods=["GET", "POST"])
@personal_data
def show(notification_id: int):
    notification = service.open_notification(actor(), notification_id)
    form = AcknowledgeForm()
    if form.validate_on_submit():
        try:
            service.acknowledge(actor(), notification_id, form.school_action.data)
            flash("Acknowledged. The missing team can see that the school has it.", "success")
            return redirect(url_for("notifications.show", notification_id=notification_id))
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("notifications/show.html", item=service.item(notification), form=form)
