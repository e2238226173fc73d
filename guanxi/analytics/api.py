"""Read endpoints of the customer metrics: one customer's figures with plain-language explanations, and
the latest model-quality (backtest) report. Organisation-wide rows are visible only to all-unit roles."""

from datetime import date, datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from pydantic import Field

from guanxi.analytics.explanations import explain
from guanxi.analytics.models import CustomerMetric, ModelRun
from guanxi.api.schemas import Amount
from guanxi.customers.models import Customer

router = Router(tags=["analytics"])


class MetricOut(Schema):
    unit_id: int | None = Field(description="Null for the organisation-wide figures.")
    first_order_at: datetime | None
    last_order_at: datetime | None
    orders: int
    items: int
    total_spend: Amount
    average_order_value: Amount
    average_days_between_orders: float | None
    returns_rate: float
    recency_days: int | None
    r_score: int | None
    f_score: int | None
    m_score: int | None
    rfm_segment: str
    abc_class: str
    probability_alive: float | None
    churn_risk: float | None
    churn_method: str
    churn_reasons: list[dict]
    expected_purchases_30: float | None
    expected_purchases_90: float | None
    expected_purchases_365: float | None
    expected_spend_per_order: Amount | None
    predicted_clv: Amount | None
    expected_next_order_at: date | None
    lifecycle_stage: str
    customer_class: str
    method: str = Field(description='"mle" (fitted models) or "empirical" (simple averages, labelled).')
    computed_at: datetime
    explanations: dict[str, str] = Field(description="Plain-language sentences keyed by topic.")


class MetricSummaryOut(Schema):
    unit_id: int | None = Field(description="Null for the organisation-wide figures.")
    rfm_segment: str
    abc_class: str
    predicted_clv: Amount | None
    churn_risk: float | None
    probability_alive: float | None
    lifecycle_stage: str
    expected_next_order_at: date | None
    computed_at: datetime
    explanations: dict[str, str] = Field(description="Plain-language sentences keyed by topic.")


class CustomerMetricsOut(Schema):
    customer_id: int
    scopes: list[MetricOut]


class CalibrationBin(Schema):
    bin: str
    customers: int
    predicted: float
    observed: float


class ModelQualityOut(Schema):
    id: int
    unit_id: int | None
    as_of: datetime
    full: bool
    method: str
    fallback_reason: str
    parameters: dict
    log_likelihood: float | None
    counts: dict
    backtest_cutoff: date | None
    backtest_mae: float | None = Field(description="Mean absolute error of repeat purchases per customer.")
    backtest_series: dict = Field(description="Cumulative repeat purchases by day of the holdout.")
    churn_method: str = Field(
        description="probability_alive, recency or supervised: where churn risk came from."
    )
    churn_auc: float | None = Field(description="Backtest AUC of the P(alive)-based churn risk.")
    supervised_churn_auc: float | None = Field(
        description="Backtest AUC of the gradient-boosting model; used when higher than churn_auc."
    )
    churn_calibration: list[CalibrationBin]
    finished_at: datetime | None


@router.get(
    "/customers/{customer_id}/metrics",
    response=CustomerMetricsOut,
    summary="A customer's metrics in each scope the caller sees, with explanations",
)
def get_customer_metrics(request, customer_id: int):
    customer = get_object_or_404(Customer.objects.restrict(request.user, "view"), pk=customer_id)
    rows = CustomerMetric.objects.restrict(request.user, "view").filter(customer=customer)
    return {"customer_id": customer.pk, "scopes": [_metric(row) for row in rows.order_by("unit_id")]}


@router.get(
    "/analytics/model-quality",
    response=ModelQualityOut,
    summary="The latest successful refresh's models and backtest (organisation-wide, or one unit)",
)
def get_model_quality(request, unit: int | None = None):
    runs = ModelRun.objects.restrict(request.user, "view").filter(state=ModelRun.State.SUCCEEDED)
    runs = runs.filter(unit_id=unit) if unit is not None else runs.filter(unit__isnull=True)
    return get_object_or_404(runs.order_by("-started_at", "-pk")[:1])


def _metric(row: CustomerMetric) -> dict:
    data = {field: getattr(row, field) for field in MetricOut.model_fields if field != "explanations"}
    data["explanations"] = explain(row)
    return data
