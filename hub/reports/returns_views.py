"""Pages of the returns, the annual report and data quality, under /reports beside the dashboard
(hub.reports.views). Views parse the request and call one service function each."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from hub.errors import Invalid
from hub.reports import annual as annual_report
from hub.reports import quality as quality_service
from hub.reports import returns
from hub.reports.definitions import RETURN_INTERVIEW_OFFERED
from hub.reports.returns_forms import AnnualForm, ReturnYearForm
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("reports_returns", __name__, url_prefix="/reports")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(content: bytes, filename: str, mimetype: str) -> Response:
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/quality")
@personal_data
def quality():
    return render_template("reports/quality.html", report=quality_service.quality_report(actor()))


@bp.route("/returns")
def returns_page():
    returns.check_may_export(actor())
    form = ReturnYearForm(formdata=None, year=str(returns.latest_complete_year()))
    return render_template("reports/returns.html", form=form, rhi_offered=RETURN_INTERVIEW_OFFERED)


@bp.route("/returns/ssd-missing.csv")
def ssd_missing():
    made = returns.ssd_missing(actor())
    return _download(made.content, made.filename, "text/csv")


@bp.route("/returns/ssda903-missing.csv")
def ssda903_missing():
    returns.check_may_export(actor())
    form = ReturnYearForm(request.args)
    if form.validate():
        try:
            made = returns.ssda903_missing(actor(), form.year_number)
            return _download(made.content, made.filename, "text/csv")
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("reports/returns.html", form=form, rhi_offered=RETURN_INTERVIEW_OFFERED), 400


@bp.route("/annual")
def annual():
    annual_report.check_may_build(actor())
    if not request.args:
        return render_template("reports/annual.html", form=AnnualForm(
            formdata=None, year=str(annual_report.default_year(actor()))))
    form = AnnualForm(request.args)
    if form.validate():
        try:
            made = annual_report.build_for(actor(), form.year_number)
            return _download(made.content, made.filename, XLSX)
        except Invalid as exc:
            apply_errors(form, exc)
    return render_template("reports/annual.html", form=form), 400
