"""The Reports pages: the role's dashboard, a report (table, chart, filters, permalink, export) and the
drill-down behind one of its rows. Every page needs reports.view and the read model's own permission."""

from typing import Any

from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core import exports
from guanxi.core.access import require
from guanxi.reports import catalogue, dashboard
from guanxi.reports.drill import LIMIT, drill
from guanxi.reports.kit import Report, chosen_unit, parse_scope, run, visible_units

PERMISSION = "reports.view"


def home(request):
    user = require(request, PERMISSION)
    units = visible_units(user)
    unit = chosen_unit(request.GET, user, units)
    scope = parse_scope(catalogue.REPORTS[0], request.GET, unit, timezone.now())
    return render(
        request,
        "reports/home.html",
        {
            "sections": dashboard.sections(user, scope, timezone.now()),
            "reports": [r for r in catalogue.REPORTS if user.has_permission(r.needs)],
            "units": units,
            "unit": unit,
            "all_units_allowed": user.sees_all_units(),
            "month": dashboard.this_month(timezone.now()),
            "currency": catalogue.currency(),
        },
    )


def _report(request, slug: str) -> tuple[Any, Report]:
    user = require(request, PERMISSION)
    report = catalogue.BY_SLUG.get(slug)
    if report is None:
        raise Http404
    require(request, report.needs)
    return user, report


def report(request, slug):
    user, shown = _report(request, slug)
    units = visible_units(user)
    unit = chosen_unit(request.GET, user, units)
    scope = parse_scope(shown, request.GET, unit, timezone.now())
    result = run(shown, user, scope)
    fmt = request.GET.get("format")
    if fmt:
        if fmt not in exports.FORMATS:
            return HttpResponseBadRequest(_("Unknown table or format."))
        table = exports.Table(f"report-{shown.slug}", str(shown.title), result.columns, result.table_rows())
        return exports.export_table(request, table, fmt, unit=unit)
    return render(
        request,
        "reports/report.html",
        {
            "report": shown,
            "result": result,
            "scope": scope,
            "query": scope.query(),
            "filters": [(f, f.choices(user) if f.choices else None) for f in shown.filters],
            "units": units,
            "unit": unit,
            "all_units_allowed": user.sees_all_units(),
            "charts": {"report": result.chart()} if result.rows else {},
            "can_export": user.has_permission(exports.EXPORT_PERMISSION),
        },
    )


def drill_down(request, slug):
    user, shown = _report(request, slug)
    units = visible_units(user)
    unit = chosen_unit(request.GET, user, units)
    scope = parse_scope(shown, request.GET, unit, timezone.now())
    dimension = shown.dimension(scope.group)
    token = request.GET.get("value")
    rows = shown.source(user, scope)
    if token is None:  # the total's drill-down: every row behind the report
        title = f"{shown.title} · {_('Total')}"
    else:
        rows = dimension.narrow(rows, token)
        label = next((r.label for r in run(shown, user, scope).rows if r.token == token), token)
        title = f"{shown.title} · {dimension.label}: {label}"
    drilled = drill(shown.drill, user, rows, f"report-{shown.slug}-drill", title)
    fmt = request.GET.get("format")
    if fmt:
        if fmt not in exports.FORMATS:
            return HttpResponseBadRequest(_("Unknown table or format."))
        return exports.export_table(request, drilled.table, fmt, unit=unit)
    return render(
        request,
        "reports/drill.html",
        {
            "report": shown,
            "title": title,
            "drilled": drilled,
            "rows": list(zip(drilled.links, drilled.table.rows, strict=True)),
            "limit": LIMIT,
            "query": scope.query(value=token) if token is not None else scope.query(),
            "report_query": scope.query(),
            "can_export": user.has_permission(exports.EXPORT_PERMISSION),
        },
    )
