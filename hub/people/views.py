"""Children's pages: find a child, see their record. Thin: the service checks and audits."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from hub.people import service
from hub.people.forms import ChildSearchForm
from hub.web import actor, personal_data

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
    child = service.get_child(actor(), child_id, purpose="view record")
    return render_template("people/show.html", child=child)
