"""The subject access pack, as a printable page and as a workbook. Thin: the service checks,
gathers and audits."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, render_template

from hub.subject_access import service
from hub.web import actor, personal_data

bp = Blueprint("subject_access", __name__, url_prefix="/subject-access")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/<int:child_id>")
@personal_data
def show(child_id: int):
    return render_template("subject_access/show.html", pack=service.pack(actor(), child_id), shown=_shown)


@bp.route("/<int:child_id>.xlsx")
@personal_data
def download(child_id: int):
    content = service.pack_xlsx(actor(), child_id)
    filename = f"subject-access-{child_id}-{date.today()}.xlsx"
    return Response(content, mimetype=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _shown(value) -> str:
    """A value as the page shows it: the service has already written days and times."""
    return "" if value is None else str(value)
