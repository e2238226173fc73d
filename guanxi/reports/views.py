"""The Reports pages: the role's dashboard, a report (table, chart, filters, permalink, export) and the
drill-down behind one of its rows. Every page needs reports.view and the read model's own permission."""

from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from guanxi.accounts.models import User
from guanxi.accounts.roles import ALL_UNIT_ROLES
from guanxi.core import exports
from guanxi.core.access import require
from guanxi.reports import actions, catalogue, customer_filters, dashboard
from guanxi.reports.drill import LIMIT, drill
from guanxi.reports.forms import RevenueTargetForm, TargetForm
from guanxi.reports.kit import Report, Result, Scope, chosen_unit, parse_scope, run, visible_units
from guanxi.reports.models import Delivery, Frequency, RevenueTarget

PERMISSION = "reports.view"


def home(request):
    user = require(request, PERMISSION)
    units = visible_units(user)
    unit = chosen_unit(request.GET, user, units)
    now = timezone.now()
    scope = parse_scope(catalogue.REPORTS[0], request.GET, unit, now)
    form = TargetForm(request.GET if "target" in request.GET else None)
    what_if = form.cleaned_data["target"] if form.is_valid() else None
    annual_target = dashboard.annual_target(user, unit, now, what_if)
    year = dashboard.this_month(now).year
    stored = (
        RevenueTarget.objects.restrict(user, "view").filter(unit=unit, year=year).first() if unit else None
    )
    return render(
        request,
        "reports/home.html",
        {
            "sections": dashboard.sections(user, scope, now, annual_target),
            "target_form": form,
            "annual_target": annual_target,
            "stored_target": stored,
            "set_target_form": (
                RevenueTargetForm(initial={"year": year, "amount": stored.amount if stored else None})
                if unit is not None and actions.may_set_target(user, unit)
                else None
            ),
            "shows_sales": user.has_permission("commerce.view"),
            "reports": [r for r in catalogue.REPORTS if user.has_permission(r.needs)],
            "units": units,
            "unit": unit,
            "all_units_allowed": user.sees_all_units(),
            # the unit picker keeps the what-if target when the unit changes
            "keep": [("target", what_if)] if what_if is not None else [],
            "month": dashboard.this_month(now),
            "currency": catalogue.currency(),
            "deliveries": [
                (delivery, catalogue.BY_SLUG[delivery.report].title)
                for delivery in Delivery.objects.restrict(user, "view")
                .select_related("unit")
                .prefetch_related("recipients")
                .order_by("report", "pk")
                if delivery.report in catalogue.BY_SLUG
            ],
            "can_schedule": user.has_permission(actions.SCHEDULE_PERMISSION),
        },
    )


@require_POST
def set_target(request):
    user = require(request, actions.TARGET_PERMISSION)
    unit = chosen_unit(request.POST, user, visible_units(user))
    if unit is None:
        raise Http404
    form = RevenueTargetForm(request.POST)
    if form.is_valid():
        if actions.set_target(actor=user, unit=unit, **form.cleaned_data) is None:
            messages.success(request, _("The annual sales target was removed."))
        else:
            messages.success(request, _("The annual sales target was saved."))
    else:
        for field_errors in form.errors.values():
            for error in field_errors:
                messages.error(request, str(error))
    return redirect(f"{reverse('reports:home')}?{urlencode({'unit': unit.code})}")


def _report(request, slug: str) -> tuple[Any, Report]:
    user = require(request, PERMISSION)
    report = catalogue.BY_SLUG.get(slug)
    if report is None:
        raise Http404
    require(request, report.needs)
    return user, report


def _scope(request, user, shown: Report, unit) -> Scope:
    """The report's filters from the query string; a segment the user may not see is not found (its
    name and members stay unknown to them)."""
    scope = parse_scope(shown, request.GET, unit, timezone.now())
    if scope.segment and customer_filters.chosen_segment(user, scope) is None:
        raise Http404
    return scope


def report(request, slug):
    user, shown = _report(request, slug)
    units = visible_units(user)
    unit = chosen_unit(request.GET, user, units)
    scope = _scope(request, user, shown, unit)
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
            "charts": _charts(result, user),
            "can_export": user.has_permission(exports.EXPORT_PERMISSION),
            "can_schedule": unit is not None and user.has_permission(actions.SCHEDULE_PERMISSION),
            "frequencies": Frequency.choices,
            "recipients": _recipients(shown, unit) if unit is not None else [],
        },
    )


def _charts(result: Result, user) -> dict[str, Any]:
    if not result.rows:
        return {}
    charts = {"report": result.chart()}
    curve = result.second_chart(user)
    if curve is not None:
        charts["curve"] = curve
    return charts


def _recipients(shown: Report, unit) -> list[User]:
    """The people who may read `shown` in `unit`: its members and the group-wide roles."""
    people = User.objects.filter(Q(units=unit) | Q(role__in=ALL_UNIT_ROLES), is_active=True).distinct()
    return [person for person in people.order_by("username") if actions.may_read(person, shown, unit)]


@require_POST
def schedule(request, slug):
    user, shown = _report(request, slug)
    unit = chosen_unit(request.POST, user, visible_units(user))
    if unit is None:
        raise Http404
    allowed = {person.pk: person for person in _recipients(shown, unit)}
    chosen = [
        allowed[int(pk)] for pk in request.POST.getlist("recipients") if pk.isdigit() and int(pk) in allowed
    ]
    try:
        actions.schedule(
            actor=user,
            unit=unit,
            report=shown.slug,
            query=request.POST.get("query", ""),
            frequency=request.POST.get("frequency", ""),
            recipients=chosen,
        )
    except actions.DeliveryError as error:
        messages.error(request, str(error))
        return redirect(f"{reverse('reports:report', args=[shown.slug])}?{request.POST.get('query', '')}")
    messages.success(request, _("The report will be sent by e-mail."))
    return redirect("reports:home")


@require_POST
def delivery_cancel(request, pk):
    user = require(request, PERMISSION)
    delivery = get_object_or_404(Delivery.objects.restrict(user, "delete"), pk=pk)
    actions.cancel(delivery, actor=user)
    messages.success(request, _("The scheduled report was cancelled."))
    return redirect("reports:home")


def drill_down(request, slug):
    user, shown = _report(request, slug)
    units = visible_units(user)
    unit = chosen_unit(request.GET, user, units)
    scope = _scope(request, user, shown, unit)
    dimension = shown.dimension(scope.group)
    token = request.GET.get("value")
    rows = shown.source(user, scope)
    if token is None:  # the total's drill-down: every row behind the report
        title = f"{shown.title} · {pgettext('report total', 'Total')}"
    else:
        rows = dimension.narrow(rows, token)
        label = next((r.label for r in run(shown, user, scope).rows if r.token == token), token)
        title = f"{shown.title} · {dimension.label}: {label}"
    if shown.drill_rows is not None:
        rows = shown.drill_rows(user, rows)
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
