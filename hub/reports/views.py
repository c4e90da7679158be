"""The reports pages: the dashboard, a figure's data as CSV or xlsx, the patterns page, and the
charts' stylesheet. Thin: the service scopes, counts and audits."""

from __future__ import annotations

from flask import Blueprint, Response, g, render_template, request
from flask_login import current_user

from hub.permissions import aggregate_only, may_view_reports
from hub.reports import charts, service, suppression
from hub.reports.figures import london_today
from hub.reports.forms import ReportFilterForm, default_period
from hub.reports.query import ReportFilters
from hub.web import actor, personal_data

bp = Blueprint("reports", __name__, url_prefix="/reports")


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
    return Response(download.content, mimetype=download.mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{download.filename}"'})


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
