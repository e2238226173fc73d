"""Forecast, reports, the inactivity report, and quotas and plans: charts (ECharts) and tables, each
table downloadable as CSV or XLSX (audited, formula-safe)."""

from django.db.models import Count, Q
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from guanxi.accounts.models import BusinessUnit
from guanxi.core.access import require
from guanxi.core.exports import Table
from guanxi.sales import periods, reports
from guanxi.sales.access import manages_sales, require_manager, sales_users
from guanxi.sales.actions import targets
from guanxi.sales.forecast import forecast as forecast_of
from guanxi.sales.forms import PlanForm, QuotaForm, choose
from guanxi.sales.models import Activity, Opportunity, Pipeline, Quota, SalesPlan, SalesRules
from guanxi.sales.views.common import export, form_errors, page, run

VIEW = "sales.view"


def _period(request) -> periods.Period:
    return periods.parse(request.GET.get("period"))


def _money(value) -> str:
    return format(value, "f")


def forecast(request):
    user = require(request, VIEW)
    period = _period(request)
    shown = forecast_of(user, period)
    if request.GET.get("format"):
        return export(request, _forecast_table(shown))
    reps = [row for row in shown.reps if row.owner_id]
    chart = {
        "kind": "sales_forecast",
        "labels": [row.owner_name for row in reps],
        "series": [
            {"name": _("Won"), "values": [_money(row.won) for row in reps], "stack": "forecast"},
            {"name": _("Commit"), "values": [_money(row.commit) for row in reps], "stack": "forecast"},
            {"name": _("Best case"), "values": [_money(row.best_case) for row in reps], "stack": "forecast"},
            {"name": _("Quota"), "values": [_money(row.quota) for row in reps], "line": True},
        ],
    }
    context = {
        "forecast": shown,
        "periods": periods.choices(),
        "period": period,
        "charts": {"forecast": chart},
    }
    return page(request, "sales/forecast.html", context, "sales:forecast")


def _forecast_table(shown) -> Table:
    rows = [
        *((row, row.owner_name or _("Unassigned")) for row in shown.reps),
        *((row, _("Unit total")) for row in shown.units),
    ]
    return Table(
        name="sales-forecast",
        title=_("Forecast %(period)s") % {"period": shown.period.label},
        columns=(
            _("Business unit"),
            _("Sales user"),
            _("Currency"),
            _("Quota"),
            _("Won"),
            _("Attainment (%)"),
            _("Commit"),
            _("Best case"),
            _("Pipeline"),
            _("Weighted pipeline"),
            _("Commission"),
        ),
        rows=tuple(
            (
                row.unit_name,
                who,
                row.currency,
                row.quota,
                row.won,
                row.attainment,
                row.commit,
                row.best_case,
                row.pipeline,
                row.weighted,
                row.commission,
            )
            for row, who in rows
        ),
    )


def sales_reports(request):
    user = require(request, VIEW)
    period = _period(request)
    pipelines = list(
        Pipeline.objects.restrict(user, "view").select_related("unit").order_by("unit__code", "-is_default")
    )
    chosen = next(
        (p for p in pipelines if str(p.pk) == request.GET.get("pipeline")),
        pipelines[0] if pipelines else None,
    )
    funnel = reports.funnel(user, chosen, period) if chosen else []
    results = reports.results(user, period)
    lost = reports.lost_reasons(user, period)
    activity = reports.activity_counts(user, period)
    kinds = Activity.Kind.choices
    tables = {
        "funnel": lambda: Table(
            "sales-funnel",
            _("Funnel"),
            (_("Stage"), _("Win probability (%)"), _("Reached"), _("Went on (%)")),
            tuple((s.stage.name, s.stage.probability, s.reached, s.conversion) for s in funnel),
        ),
        "results": lambda: Table(
            "sales-results",
            _("Win rate and cycle time"),
            (
                _("Sales user"),
                _("Won"),
                _("Lost"),
                _("Win rate (%)"),
                _("Won amount"),
                _("Average days to win"),
            ),
            tuple(
                (r.owner_name or _("Unassigned"), r.won, r.lost, r.win_rate, r.won_amount, r.cycle_days)
                for r in results
            ),
        ),
        "lost": lambda: Table(
            "sales-lost-reasons",
            _("Lost reasons"),
            (_("Reason"), _("Deals")),
            tuple((label, n) for _c, label, n in lost),
        ),
        "activities": lambda: Table(
            "sales-activities",
            _("Activities per sales user"),
            (_("Sales user"), *(str(label) for _k, label in kinds), _("Total")),
            tuple((r.owner_name, *(r.by_kind.get(k, 0) for k, _l in kinds), r.total) for r in activity),
        ),
    }
    table = request.GET.get("table", "")
    if request.GET.get("format") and table in tables:
        return export(request, tables[table]())
    charts = {
        "funnel": {
            "kind": "bar",
            "labels": [s.stage.name for s in funnel],
            "values": [s.reached for s in funnel],
            "series_label": _("Deals"),
        },
        "win_rate": {
            "kind": "columns",
            "labels": [r.owner_name or _("Unassigned") for r in results],
            "values": [float(r.win_rate or 0) for r in results],
            "series_label": _("Win rate (%)"),
        },
        "lost": {
            "kind": "pie",
            "values": [{"name": label, "value": n} for _c, label, n in lost],
            "series_label": _("Deals"),
        },
        "activities": {
            "kind": "stacked",
            "labels": [r.owner_name for r in activity],
            "series": [
                {"name": str(label), "values": [r.by_kind.get(k, 0) for r in activity]} for k, label in kinds
            ],
        },
    }
    query = request.GET.copy()
    query.pop("format", None)
    query.pop("table", None)
    context = {
        "period": period,
        "periods": periods.choices(),
        "pipelines": pipelines,
        "pipeline": chosen,
        "funnel": funnel,
        "results": results,
        "lost": lost,
        "activity": activity,
        "kinds": kinds,
        "charts": charts,
        "activity_rows": [(r, [r.by_kind.get(k, 0) for k, _l in kinds]) for r in activity],
        "pipeline_keep": [("pipeline", chosen.pk)] if chosen else [],
        "can_export": user.has_permission("data.export"),
        "query": query.urlencode(),
    }
    return page(request, "sales/reports.html", context, "sales:reports")


def inactivity(request):
    user = require(request, VIEW)
    require_manager(user, None)
    rows = reports.inactivity(user, only_inactive=request.GET.get("all") != "1")
    if request.GET.get("format"):
        return export(
            request,
            Table(
                "sales-inactivity",
                _("Inactive sales users"),
                (
                    _("Business unit"),
                    _("Sales user"),
                    _("Role"),
                    _("Last activity"),
                    _("Days without"),
                    _("Threshold (days)"),
                    _("Last sign-in"),
                ),
                tuple(
                    (
                        r.unit.name,
                        r.user.shown_name,
                        r.user.get_role_display(),
                        r.last_activity_at,
                        r.days_without,
                        r.threshold,
                        r.user.last_login,
                    )
                    for r in rows
                ),
            ),
        )
    return page(
        request,
        "sales/inactivity.html",
        {"rows": rows, "show_all": request.GET.get("all") == "1"},
        "sales:inactivity",
    )


@require_http_methods(["GET", "POST"])
def targets_page(request):
    user = require(request, VIEW)
    period = periods.parse(request.GET.get("period") or request.POST.get("period"))
    if period.kind != "month":
        period = periods.month(period.start)
    units = list(BusinessUnit.objects.restrict(user, "view"))
    unit = next(
        (u for u in units if str(u.pk) == (request.POST.get("unit") or request.GET.get("unit"))),
        units[0] if units else None,
    )
    sellers = list(sales_users(unit).filter(is_active=True)) if unit else []
    scope = user.owner_scope()
    if scope is not None:
        sellers = [s for s in sellers if s.pk in scope.owner_ids]
    quota_form = QuotaForm(
        request.POST if request.POST.get("form") == "quota" else None, initial={"month": period.start}
    )
    plan_form = PlanForm(
        request.POST if request.POST.get("form") == "plan" else None,
        initial={"month": period.start, "user": user.pk},
    )
    for form in (quota_form, plan_form):
        choose(form, "user", ((s.pk, s.shown_name) for s in sellers))
    if request.method == "POST" and unit is not None:
        people = {s.pk: s for s in sellers}
        if request.POST.get("form") == "quota":
            run(
                request,
                quota_form,
                lambda: targets.set_quota(
                    unit=unit,
                    user=people[quota_form.cleaned_data["user"]],
                    month=quota_form.cleaned_data["month"],
                    amount=quota_form.cleaned_data["amount"],
                    commission_rate=quota_form.cleaned_data["commission_rate"],
                    actor=user,
                ),
                _("Quota saved."),
            )
            form_errors(request, quota_form)
        else:
            fields = ("planned_calls", "planned_visits", "planned_meetings", "planned_opportunities", "notes")
            run(
                request,
                plan_form,
                lambda: targets.set_plan(
                    unit=unit,
                    user=people[plan_form.cleaned_data["user"]],
                    month=plan_form.cleaned_data["month"],
                    actor=user,
                    **{f: plan_form.cleaned_data[f] for f in fields},
                ),
                _("Plan saved."),
            )
            form_errors(request, plan_form)
        return redirect(f"{reverse('sales:targets')}?period={period.key}&unit={unit.pk}")
    quotas = {
        q.user_id: q for q in Quota.objects.restrict(user, "view").filter(unit=unit, month=period.start)
    }
    plans = {
        p.user_id: p for p in SalesPlan.objects.restrict(user, "view").filter(unit=unit, month=period.start)
    }
    done = {r.owner_id: r.by_kind for r in reports.activity_counts(user, period)}
    opened = dict(
        Opportunity.objects.restrict(user, "view")
        .filter(
            period.instants_q("created_at", [(unit.pk, SalesRules(unit=unit).zone)]) if unit else Q(pk__in=[])
        )
        .values("owner_id")
        .annotate(n=Count("pk"))
        .values_list("owner_id", "n")
    )
    rows = [
        {
            "user": s,
            "quota": quotas.get(s.pk),
            "plan": plans.get(s.pk),
            "done": done.get(s.pk, {}),
            "opened": opened.get(s.pk, 0),
        }
        for s in sellers
    ]
    context = {
        "period": period,
        "months": [p for p in periods.choices() if p.kind == "month"],
        "units": units,
        "unit": unit,
        "rows": rows,
        "quota_form": quota_form,
        "plan_form": plan_form,
        "manages": manages_sales(user, unit) if unit else False,
        "unit_keep": [("unit", unit.pk)] if unit else [],
    }
    return page(request, "sales/targets.html", context, "sales:targets")
