"""The Analytics page of one business unit (or, for group-wide roles, of all units), and its exports."""

from decimal import Decimal

from django import forms
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from guanxi.accounts.models import BusinessUnit, Organisation
from guanxi.analytics.models import CustomerMetric, ModelRun
from guanxi.analytics.reports.page import StoreAnalyses
from guanxi.commerce.models import Order
from guanxi.core import exports
from guanxi.core.access import require

PERMISSION = "analytics.view"


class TargetForm(forms.Form):
    """The annual sales target that the seasonal index spreads over the months."""

    target = forms.DecimalField(
        label=_("Annual sales target"),
        required=False,
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "1200000"}),
    )


def overview(request):
    user = require(request, PERMISSION)
    units = _visible_units(user)
    unit = _chosen_unit(request, user, units)
    orders = Order.objects.restrict(user, "view")
    # Organisation-wide metric rows cover every unit's orders; a unit's view reads only that unit's rows.
    metrics = CustomerMetric.objects.restrict(user, "view")
    if unit is not None:
        orders = orders.filter(unit=unit)
        metrics = metrics.filter(unit=unit)
    else:
        metrics = metrics.filter(unit__isnull=True)
    form = TargetForm(request.GET or None)
    annual_target = form.cleaned_data["target"] if form.is_valid() else None
    analyses = StoreAnalyses(orders, metrics, currency=_currency(), annual_target=annual_target)

    fmt = request.GET.get("format")
    if fmt:
        table = analyses.table(request.GET.get("table", ""))
        if table is None or fmt not in exports.FORMATS:
            return HttpResponseBadRequest(_("Unknown table or format."))
        return exports.export_table(request, table, fmt, unit=unit)

    query = {"unit": unit.code if unit else ""}
    if annual_target is not None:
        query["target"] = str(annual_target)
    return render(
        request,
        "analytics/overview.html",
        {
            "analyses": analyses,
            "charts": analyses.charts() if analyses.has_sales or analyses.metrics else {},
            "units": units,
            "unit": unit,
            "all_units_allowed": user.sees_all_units(),
            "form": form,
            "query": urlencode({key: value for key, value in query.items() if value}),
            "can_export": user.has_permission(exports.EXPORT_PERMISSION),
            "run": _latest_run(user, unit),
        },
    )


def _visible_units(user) -> list[BusinessUnit]:
    return list(BusinessUnit.objects.restrict(user, "view").order_by("code"))


def _chosen_unit(request, user, units: list[BusinessUnit]) -> BusinessUnit | None:
    """The unit named by ?unit=<code> among the visible ones. Without one, group-wide roles see every
    unit together and everyone else their first unit."""
    code = request.GET.get("unit")
    if code:
        for unit in units:
            if unit.code == code:
                return unit
        raise Http404
    if user.sees_all_units() or not units:
        return None
    return units[0]


def _currency() -> str:
    organisation = Organisation.objects.first()
    return organisation.default_currency if organisation else "CNY"


def _latest_run(user, unit: BusinessUnit | None) -> ModelRun | None:
    runs = ModelRun.objects.restrict(user, "view").filter(state=ModelRun.State.SUCCEEDED)
    runs = runs.filter(unit=unit) if unit is not None else runs.filter(unit__isnull=True)
    return runs.order_by("-started_at", "-id").first()
