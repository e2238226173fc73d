"""What analytics adds to a customer: the metrics section of the 360 page and API, and the RFM segment
and ABC class filters of the customer list. Metric rows are not moved by a merge: the next refresh
recomputes the survivor from the orders the merge moved.

The rows are guarded by `customers.view` (`CustomerMetric.PERMISSION_APP`): a customer's own figures
are part of their record, shown for the units the viewer sees.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from guanxi.analytics.explanations import explain
from guanxi.analytics.models import AbcClass, CustomerMetric, RfmSegment
from guanxi.customers.references import (
    ApiPart,
    ListFilter,
    Recompute,
    Section,
    register_list_filter,
    register_reference,
    register_section,
)


@dataclass(frozen=True)
class MetricView:
    unit_id: int | None
    unit_name: str
    row: CustomerMetric
    explanations: dict[str, str]


def fetch_metrics(user, customer) -> tuple[MetricView, ...]:
    """The customer's metric rows in each scope the user sees (organisation-wide for all-unit roles)."""
    rows = (
        CustomerMetric.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("unit")
        .order_by("unit_id")
    )
    return tuple(
        MetricView(
            unit_id=row.unit_id,
            unit_name=row.unit.name if row.unit else "",
            row=row,
            explanations=explain(row),
        )
        for row in rows
    )


def metrics_for_api(user, customer) -> list[dict[str, Any]]:
    return [
        {
            "unit_id": metric.row.unit_id,
            "rfm_segment": metric.row.rfm_segment,
            "abc_class": metric.row.abc_class,
            "predicted_clv": metric.row.predicted_clv,
            "churn_risk": metric.row.churn_risk,
            "probability_alive": metric.row.probability_alive,
            "lifecycle_stage": metric.row.lifecycle_stage,
            "expected_next_order_at": metric.row.expected_next_order_at,
            "computed_at": metric.row.computed_at,
            "explanations": metric.explanations,
        }
        for metric in fetch_metrics(user, customer)
    ]


def metrics_in_scope(user, unit_id: int | None) -> QuerySet:
    """The metric rows a list filter reads: the chosen unit's, else organisation-wide for roles that see
    every unit, else those of the user's units."""
    metrics = CustomerMetric.objects.restrict(user, "view")
    if unit_id is not None:
        return metrics.filter(unit_id=unit_id)
    if user.visible_unit_ids() is None:
        return metrics.filter(unit__isnull=True)
    return metrics.filter(unit__isnull=False)


def _metric_filter(field: str):
    def apply(customers: QuerySet, user, value: str, unit_id: int | None) -> QuerySet:
        rows = metrics_in_scope(user, unit_id).filter(**{field: value})
        return customers.filter(pk__in=rows.values("customer_id"))

    return apply


def register() -> None:
    register_personal_data()
    from guanxi.analytics.api import MetricSummaryOut

    register_reference(
        "metrics", CustomerMetric, Recompute("the next analytics refresh recomputes the survivor's metrics")
    )
    register_section(
        Section(
            key="metrics",
            template="analytics/customer_metrics.html",
            fetch=fetch_metrics,
            api=ApiPart(list[MetricSummaryOut], "One entry per scope the caller sees.", metrics_for_api),
        )
    )
    register_list_filter(
        ListFilter(
            "rfm_segment", _("RFM segment"), lambda: list(RfmSegment.choices), _metric_filter("rfm_segment")
        )
    )
    register_list_filter(
        ListFilter("abc_class", _("ABC class"), lambda: list(AbcClass.choices), _metric_filter("abc_class"))
    )


def register_personal_data() -> None:
    """Declare how erasure treats this app's personal fields (guanxi.privacy; a test keeps it complete)."""
    from guanxi.analytics.models import ModelRun
    from guanxi.customers.references import NotPersonal, register_pii

    register_pii(ModelRun, ["message"], NotPersonal("A model fit's outcome."))
