"""The Analytics page: the analyses of one business unit (or, for group-wide roles, of all units) as
reports of the kit, each a card with its chart and a link to the report's own page (its permalink,
drill-down, export and delivery). It lives in the reports app because the kit does: analytics sits
below reports in the layers and may not import it (ADR 0038, "One engine for the Analytics page")."""

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode

from guanxi.accounts.models import BusinessUnit
from guanxi.analytics.models import AbcClass, LifecycleStage, ModelRun
from guanxi.analytics.reports import orders as order_reports
from guanxi.core import exports
from guanxi.core.access import require
from guanxi.reports import analyses, catalogue, dashboard
from guanxi.reports.forms import TargetForm
from guanxi.reports.kit import Report, Result, Scope, add_months, chosen_unit, run, visible_units

PERMISSION = "analytics.view"


@dataclass(frozen=True)
class Card:
    report: Report
    result: Result
    query: str  # the report's permalink query: its unit, group and period

    @property
    def slug(self) -> str:
        return self.report.slug


def _card(slug: str, user, scope: Scope) -> Card:
    report = catalogue.BY_SLUG[slug]
    result = run(report, user, scope)
    return Card(report, result, result.scope.query())


# Cards whose chart has a bar per class in the classes' own order, the empty classes included.
COUNTS = {"abc": AbcClass.choices, "lifecycle": LifecycleStage.choices}


def plan(unit: BusinessUnit | None, end: date | None, has_metrics: bool) -> dict[str, tuple[str, Scope]]:
    """The page's cards: each the report behind it and the scope it is shown with. The sales cards cover
    the twelve months (the trends 24) up to `end`, the month of the last sale; none without one."""
    cards: dict[str, tuple[str, Scope]] = {}
    if end is not None:
        start = add_months(end, 1 - analyses.PERIOD_MONTHS)
        period = Scope(unit=unit, start=start, end=end)
        trend = Scope(unit=unit, start=add_months(end, 1 - order_reports.TREND_MONTHS), end=end)
        cards.update(
            cohorts=("cohorts", period),
            returning=("returning", trend),
            devices=("devices", trend),
            pareto=("pareto", Scope(unit=unit)),
            seasonal=("seasonal", Scope(unit=unit)),
            categories=("products", replace(period, group="category")),
            channels=("order-sales", replace(period, group="channel")),
            provinces=("order-sales", replace(period, group="province")),
        )
    if has_metrics:
        cards.update(
            rfm=("rfm", Scope(unit=unit)),
            clv=("clv", Scope(unit=unit)),
            abc=("contribution", Scope(unit=unit, group="abc")),
            lifecycle=("composition", Scope(unit=unit, group="stage")),
            abc_by_class=("abc-by-class", Scope(unit=unit)),
        )
    return cards


def overview(request):
    user = require(request, PERMISSION)
    units = visible_units(user)
    unit = chosen_unit(request.GET, user, units)
    everything = Scope(unit=unit)
    end = analyses.last_sale_month(user, everything)
    form = TargetForm(request.GET or None)
    what_if = form.cleaned_data["target"] if form.is_valid() else None
    annual_target = dashboard.annual_target(user, unit, timezone.now(), what_if)
    metrics = analyses.scope_metrics(user, everything).aggregate(
        customers=Count("id"), computed_at=Max("computed_at")
    )

    cards = {
        key: _card(slug, user, scope)
        for key, (slug, scope) in plan(unit, end, bool(metrics["customers"])).items()
    }
    charts: dict[str, Any] = {
        key: card.result.chart() for key, card in cards.items() if key not in COUNTS and card.result.rows
    }
    if "pareto" in charts:
        charts["pareto"] = cards["pareto"].result.curve  # the curve, not the classes' bars
    if "seasonal" in charts:
        charts["seasonal"]["mark"] = 100
    for key, choices in COUNTS.items():
        if key in cards:
            charts[key] = _counts(cards[key].result, choices, "customers")

    query = {"unit": unit.code if unit else ""}
    if what_if is not None:
        query["target"] = str(what_if)
    return render(
        request,
        "reports/analytics.html",
        {
            "cards": cards,
            "charts": charts,
            "end": end,
            "currency": catalogue.currency(),
            "metrics": metrics if metrics["customers"] else None,
            "seasonal": _seasonal_rows(cards.get("seasonal"), user, everything, annual_target),
            "annual_target": annual_target,
            "target_stored": what_if is None and annual_target is not None,
            "abc_shares": analyses.abc_shares(),
            "units": units,
            "unit": unit,
            "all_units_allowed": user.sees_all_units(),
            "form": form,
            # the unit picker keeps the target when the unit changes
            "keep": [("target", what_if)] if what_if is not None else [],
            "query": urlencode({key: value for key, value in query.items() if value}),
            "can_export": user.has_permission(exports.EXPORT_PERMISSION),
            "run": _latest_run(user, unit),
        },
    )


def _counts(result: Result, choices, key: str) -> dict[str, Any]:
    """A bar per class, in the classes' own order and with the empty ones, from a kit result."""
    index = next(k for k, measure in enumerate(result.report.measures) if measure.key == key)
    position = sum(2 if measure.share else 1 for measure in result.report.measures[:index])
    counts = {row.token: row.values[position] for row in result.rows}
    return {
        "kind": "bar",
        "labels": [str(label) for _value, label in choices],
        "values": [counts.get(value, 0) for value, _label in choices],
        "series_label": str(result.report.measures[index].label),
    }


def _seasonal_rows(card: Card | None, user, scope: Scope, annual_target: Decimal | None) -> list[dict]:
    """The seasonal index's rows, each with its share of the annual target when one was given."""
    if card is None or not card.result.rows:
        return []
    targets: dict[int, Decimal] = {}
    if annual_target is not None:
        index = order_reports.seasonal_index(analyses.unit_orders(user, scope), catalogue.currency())
        targets = {
            target.month: target.target for target in order_reports.monthly_targets(index, annual_target)
        }
    return [
        {"row": row, "month": int(row.token), "target": targets.get(int(row.token))}
        for row in card.result.rows
    ]


def _latest_run(user, unit: BusinessUnit | None) -> ModelRun | None:
    runs = ModelRun.objects.restrict(user, "view").filter(state=ModelRun.State.SUCCEEDED)
    runs = runs.filter(unit=unit) if unit is not None else runs.filter(unit__isnull=True)
    return runs.order_by("-started_at", "-id").first()
