"""The customer metrics store and the record of each refresh (its fitted models and backtest).

A `CustomerMetric` row holds one customer's figures in one scope: organisation-wide (unit NULL) or one
business unit. Rows are written only by `guanxi.analytics.refresh`; everything else reads them.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.analytics.fitting import FallbackReason, FitMethod
from guanxi.core.display import label_of
from guanxi.core.money import amount_field_kwargs
from guanxi.core.querysets import ScopedModel


class RfmSegment(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALIST = "potential_loyalist", _("Potential Loyalist")
    NEW = "new", _("New")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need Attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to Sleep")
    AT_RISK = "at_risk", _("At Risk")
    CANT_LOSE = "cant_lose", _("Can't Lose Them")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class AbcClass(models.TextChoices):
    A = "A", _("A: top revenue")
    B = "B", _("B: middle revenue")
    C = "C", _("C: tail revenue")


class LifecycleStage(models.TextChoices):
    """Seed 002's four stages of a customer relationship (考察期, 发展期, 稳定期, 退化期), and lost as
    the decline's end state (see guanxi.analytics.scores.lifecycle_stages)."""

    EXPLORATION = "exploration", _("Exploration")
    DEVELOPMENT = "development", _("Development")
    STABLE = "stable", _("Stable")
    DECLINE = "decline", _("Decline")
    LOST = "lost", _("Lost (end of decline)")


class CustomerClass(models.TextChoices):
    LOYAL = "loyal", _("Loyal customer")
    OLD = "old", _("Old customer")
    REGULAR = "regular", _("Regular customer")
    NEW = "new", _("New customer")
    POTENTIAL = "potential", _("Potential customer")


class ChurnMethod(models.TextChoices):
    PROBABILITY_ALIVE = "p_alive", _("From the probability of being active")
    SUPERVISED = "supervised", _("Gradient boosting on purchase history")
    RECENCY = "recency", _("From recency (empirical)")


class CustomerMetric(ScopedModel):
    """One customer's figures in one scope (organisation-wide when `unit` is NULL).

    A derived table that a refresh rewrites by the million, so its foreign keys carry no database
    constraint: checking three keys per written row cost more than writing it. Deletions through the
    ORM still cascade (Django does that, not the database), and every full refresh removes the rows of
    customers that are gone. The customer and unit columns are indexed by the constraints and indexes
    below, which lead with them; nothing looks rows up by run.

    A customer's figures are part of that customer's record: whoever may view the customer in a unit
    sees them there (a service agent prioritising a valuable customer), so rows are guarded by
    customers.view. The Analytics pages, which rank and chart the whole portfolio, still require
    analytics.view.
    """

    PERMISSION_APP = "customers"

    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="metrics",
        db_constraint=False,
        db_index=False,
    )
    unit = models.ForeignKey(
        "accounts.BusinessUnit",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    orders = models.PositiveIntegerField(_("orders"), default=0)
    items = models.BigIntegerField(_("items"), default=0)
    total_spend = models.DecimalField(_("total spend"), **amount_field_kwargs())
    average_order_value = models.DecimalField(_("average order value"), **amount_field_kwargs())
    average_days_between_orders = models.FloatField(_("average days between orders"), null=True, blank=True)
    returns_amount = models.DecimalField(_("returned"), **amount_field_kwargs())
    returns_rate = models.FloatField(_("returns rate"), default=0.0)
    recency_days = models.IntegerField(_("days since last order"), null=True, blank=True)
    r_score = models.PositiveSmallIntegerField(_("R score"), null=True, blank=True)
    f_score = models.PositiveSmallIntegerField(_("F score"), null=True, blank=True)
    m_score = models.PositiveSmallIntegerField(_("M score"), null=True, blank=True)
    rfm_segment = models.CharField(_("RFM segment"), max_length=24, choices=RfmSegment.choices, blank=True)
    abc_class = models.CharField(_("ABC class"), max_length=1, choices=AbcClass.choices, blank=True)
    probability_alive = models.FloatField(_("probability still active"), null=True, blank=True)
    churn_risk = models.FloatField(_("churn risk"), null=True, blank=True)
    churn_method = models.CharField(_("churn method"), max_length=16, choices=ChurnMethod.choices, blank=True)
    # [{"feature": "recency_days", "direction": "up"}, …]: what pushes this customer's risk up or down.
    churn_reasons = models.JSONField(_("churn reasons"), default=list, blank=True)
    expected_purchases_30 = models.FloatField(_("expected orders, next 30 days"), null=True, blank=True)
    expected_purchases_90 = models.FloatField(_("expected orders, next 90 days"), null=True, blank=True)
    expected_purchases_365 = models.FloatField(_("expected orders, next 365 days"), null=True, blank=True)
    expected_spend_per_order = models.DecimalField(
        _("expected spend per order"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    predicted_clv = models.DecimalField(
        _("predicted lifetime value"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    expected_next_order_at = models.DateField(_("expected next order"), null=True, blank=True)
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=16, choices=LifecycleStage.choices, blank=True
    )
    customer_class = models.CharField(
        _("customer class"), max_length=16, choices=CustomerClass.choices, blank=True
    )
    method = models.CharField(
        _("method"), max_length=16, choices=FitMethod.choices, default=FitMethod.EMPIRICAL
    )
    run = models.ForeignKey(
        "analytics.ModelRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        ordering = ["customer_id", "unit_id"]
        constraints = [
            # NULLs are distinct in a plain unique constraint, so the organisation-wide row gets its own.
            # Not partial, so that it also serves every look-up of a customer's rows.
            models.UniqueConstraint(fields=["customer", "unit"], name="metric_customer_unit"),
            models.UniqueConstraint(
                fields=["customer"], condition=models.Q(unit__isnull=True), name="metric_customer_org"
            ),
        ]
        indexes = [
            # Segment conditions read these (unit IS NULL is an index range too), customer included so
            # the condition needs no row look-ups.
            models.Index(fields=["unit", "rfm_segment", "customer"], name="metric_unit_rfm_customer"),
            models.Index(
                fields=["unit", "abc_class", "last_order_at", "customer"], name="metric_unit_abc_customer"
            ),
            models.Index(fields=["unit", "lifecycle_stage", "customer"], name="metric_unit_stage_customer"),
            models.Index(fields=["unit", "predicted_clv", "customer"], name="metric_unit_clv_customer"),
            models.Index(fields=["unit", "churn_risk", "customer"], name="metric_unit_churn_customer"),
        ]

    def __str__(self) -> str:
        return f"metrics of customer {self.customer_id} @ {self.unit_id or 'org'}"

    @property
    def audit_label(self) -> str:
        return f"#{self.customer_id}"


class ModelRun(ScopedModel):
    """One refresh of one scope: the fitted models, the cut-offs used for scores, and the backtest."""

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    unit = models.ForeignKey(
        "accounts.BusinessUnit", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.RUNNING)
    full = models.BooleanField(_("full refresh"), default=True)
    # The moment the metrics describe: recency and forecasts count from here.
    as_of = models.DateTimeField(_("as of"), default=timezone.now)
    method = models.CharField(
        _("method"), max_length=16, choices=FitMethod.choices, default=FitMethod.EMPIRICAL
    )
    fallback_reason = models.CharField(_("fallback reason"), max_length=200, blank=True)
    # {"bgnbd": {"r":…, "alpha":…, "a":…, "b":…} | {"rate":…}, "gamma_gamma": {…} | {"mean_spend":…}}
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    log_likelihood = models.FloatField(_("log-likelihood"), null=True, blank=True)
    # Quantile breakpoints of R/F/M and the ABC spend cut-offs, reused by incremental runs.
    breakpoints = models.JSONField(_("score breakpoints"), default=dict, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    # {"order": id, "return": id, "customer_unit": id, "customer": id}: the highest ids when the run
    # started; the next incremental run recomputes the customers of rows added after them.
    watermarks = models.JSONField(_("watermarks"), default=dict, blank=True)
    backtest_cutoff = models.DateField(_("backtest cut-off"), null=True, blank=True)
    backtest_mae = models.FloatField(_("MAE of purchases per customer"), null=True, blank=True)
    # {"weeks": [...], "actual": [...], "forecast": [...]}: cumulative repeat purchases by week.
    backtest_series = models.JSONField(_("forecast against actual"), default=dict, blank=True)
    churn_method = models.CharField(_("churn method"), max_length=16, choices=ChurnMethod.choices, blank=True)
    churn_auc = models.FloatField(_("churn AUC"), null=True, blank=True)
    supervised_churn_auc = models.FloatField(_("supervised churn AUC"), null=True, blank=True)
    # [{"bin": "0.0–0.1", "customers": n, "predicted": p̄, "observed": share}, …]
    churn_calibration = models.JSONField(_("churn calibration"), default=list, blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.CharField(_("message"), max_length=500, blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["unit", "state", "started_at"])]

    def __str__(self) -> str:
        return f"model run #{self.pk} ({self.state})"

    @property
    def audit_label(self) -> str:
        return f"#{self.pk}"

    @property
    def fallback_reason_labels(self) -> list[str]:
        """The stored reason codes ("degenerate_estimate, no_spend") in the viewer's language."""
        return [label_of(FallbackReason, code) for code in self.fallback_reason.split(", ") if code]


# The daily sales rollup (ADR 0044): the sale orders' figures per business-time-zone day, written only by
# guanxi.analytics.rollup with the metrics refresh, read by the sales reports and the role dashboards.
# Only sums are kept, so any set of days, stores or categories adds up exactly; distinct customers do
# not add up across days and are still counted from the orders or lines.


def _rollup_money() -> models.DecimalField:
    """A sum of amounts: wider than one amount (amount_field_kwargs), since a day adds many."""
    return models.DecimalField(max_digits=20, decimal_places=2, default=0)


class SalesDay(ScopedModel):
    """One day's sale orders of one store in one currency: how many and their total less refunds."""

    PERMISSION_APP = "commerce"  # the orders' figures: whoever may read the orders may read these

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey("commerce.Store", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=32)
    currency = models.CharField(max_length=3)
    day = models.DateField()
    orders = models.IntegerField(default=0)
    net_revenue = _rollup_money()  # total_amount - refunded_amount

    class Meta:
        indexes = [models.Index(fields=["day", "unit"], name="sales_day_day_unit")]

    def __str__(self) -> str:
        return f"Sales of store #{self.store_id} on {self.day}"


class SalesLineDay(ScopedModel):
    """One day's sale-order lines of one store, currency and product category."""

    PERMISSION_APP = "commerce"

    unit = models.ForeignKey("accounts.BusinessUnit", on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey("commerce.Store", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=32)
    currency = models.CharField(max_length=3)
    day = models.DateField()
    category = models.CharField(max_length=64, blank=True)
    orders = models.IntegerField(default=0)  # orders with a line of this category (per category only)
    lines = models.IntegerField(default=0)
    quantity = models.BigIntegerField(default=0)
    revenue = _rollup_money()
    costed_revenue = _rollup_money()  # revenue of the lines whose cost is known
    cost = _rollup_money()  # unit_cost × quantity of those lines

    class Meta:
        indexes = [models.Index(fields=["day", "unit"], name="sales_line_day_day_unit")]

    def __str__(self) -> str:
        return f"Sales of {self.category or '-'} in store #{self.store_id} on {self.day}"


AT_RISK_FROM = 0.5  # a churn risk from here up counts a customer as at risk


class CustomerMonth(ScopedModel):
    """The dashboards' customer counts of one scope (a unit, or the organisation when `unit` is NULL)
    and month of the business time zone: customers whose first order was that month, and lost
    customers whose last order was; the row without a month holds the customers at risk now. Counted
    from the metric rows of customers with an order, rebuilt in the transaction that writes them
    (ADR 0044), so it is never older or newer than the metrics."""

    unit = models.ForeignKey(
        "accounts.BusinessUnit", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    month = models.DateField(null=True, blank=True)
    new_customers = models.IntegerField(default=0)
    lost_customers = models.IntegerField(default=0)
    at_risk = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"Customers of {self.month or 'now'} in unit #{self.unit_id or '-'}"


class SalesRolledOrder(models.Model):
    """The day each sale order was last counted on: an order moved to another day, refunded or
    cancelled takes its old day's rows with it at the next incremental refresh."""

    order_id = models.BigIntegerField(primary_key=True)
    day = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="sales_rolled_order_day")]

    def __str__(self) -> str:
        return f"Order #{self.order_id} counted on {self.day}"


class SalesRollupMark(models.Model):
    """The rollup's single bookkeeping row: the highest order id it has seen and when it last ran."""

    last_order_id = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(default=timezone.now)
    rebuilt_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Sales rollup up to order #{self.last_order_id}"
