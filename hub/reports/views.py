"""The reports pages, two blueprints under /reports. `reports`: the dashboard, a figure's data as
CSV or xlsx, the patterns page and the charts' stylesheet. `reports_returns`: the statutory
returns, the annual report and data quality. Thin: each view parses the request and calls one
service function, which scopes, counts and audits."""

from __future__ import annotations

from flask import Blueprint, Response, g, render_template, request
from flask_login import current_user

from hub.errors import Invalid
from hub.permissions import aggregate_only, may_view_reports
from hub.reports import annual as annual_report
from hub.reports import charts, returns, service, suppression
from hub.reports import quality as quality_service
from hub.reports.definitions import RETURN_INTERVIEW_OFFERED
from hub.reports.figures import london_today
from hub.reports.forms import AnnualForm, ReportFilterForm, ReturnYearForm, default_period
from hub.reports.query import ReportFilters
from hub.web import actor, apply_errors, personal_data

bp = Blueprint("reports", __name__, url_prefix="/reports")
#: The returns, the annual report and data quality: a blueprint of their own, so their endpoint
#: names (`reports_returns.*`) stay as bookmarked and linked.
returns_bp = Blueprint("reports_returns", __name__, url_prefix="/reports")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(content: bytes, filename: str, mimetype: str) -> Response:
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.app_context_processor
def _menu() -> dict:
    return {"may_view_reports": shows_reports, "reaches_records": reaches_records}


def reaches_records() -> bool:
    """Whether the menu offers Children and Sharing: not to an analyst, whose lists would be empty."""
    return current_user.is_authenticated and not aggregate_only(actor())


def shows_reports() -> bool:
    """Whether the menu offers Reports to the signed-in user, worked out once a request."""
    if "may_view_reports" not in g:
        g.may_view_reports = current_user.is_authenticated and may_view_reports(actor())
    return g.may_view_reports


def _filters() -> tuple[ReportFilterForm, ReportFilters]:
    form = ReportFilterForm(request.args).with_options(service.filter_options(actor()))
    today = london_today()
    if request.args and not form.validate():
        return form, ReportFilters(*default_period(today))  # the errors show; the figures use the default
    return form, form.filters(today)


@bp.route("")
def dashboard():
    form, filters = _filters()
    page = service.dashboard(actor(), filters)
    return render_template("reports/dashboard.html", form=form, page=page, filters=filters,
                           described=service.describe(filters, episode_filters=not page.school_only),
                           render_chart=charts.render,
                           withheld_note=service.withheld_note(suppression.threshold()))


@bp.route("/data/<figure>.<ext>")
def data(figure: str, ext: str):
    _form, filters = _filters()
    download = service.export(actor(), filters, figure, ext)
    return _download(download.content, download.filename, download.mimetype)


@bp.route("/patterns")
@personal_data
def patterns():
    form, filters = _filters()
    page = service.patterns_page(actor(), filters)
    school_only = service.school_only(actor())
    return render_template("reports/patterns.html", form=form, page=page, filters=filters,
                           described=service.describe(filters, episode_filters=not school_only),
                           render_chart=charts.render, withheld_note=service.withheld_note(suppression.threshold()),
                           school_only=school_only)


@bp.route("/charts.css")
def chart_css():
    return Response(charts.chart_css(), mimetype="text/css")


# --- the returns, the annual report and data quality (reports_returns) -----------------------------------

@returns_bp.route("/quality")
@personal_data
def quality():
    return render_template("reports/quality.html", report=quality_service.quality_report(actor()))


@returns_bp.route("/returns")
def returns_page():
    returns.check_may_export(actor())
    form = ReturnYearForm(formdata=None, year=str(returns.latest_complete_year()))
    return render_template("reports/returns.html", form=form, rhi_offered=RETURN_INTERVIEW_OFFERED)


@returns_bp.route("/returns/ssd-missing.csv")
def ssd_missing():
    made = returns.ssd_missing(actor())
    return _download(made.content, made.filename, "text/csv")


@returns_bp.route("/returns/ssda903-missing.csv")
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


@returns_bp.route("/annual")
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
