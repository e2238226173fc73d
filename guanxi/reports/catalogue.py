"""The reports seed 002's requirements spec names (客户贡献分析, 客户构成分析, 客户流失分析,
不同商品的销售构成分析, 客户服务分析), each declared over a read model another app exposes: the
analytics metrics store (one row per customer and unit, or organisation-wide), the order lines of sale
orders, the service tickets (through guanxi.service.fetch); and the loyalty points and tiers, the sales
pipeline and quotas, and the campaigns' effect (through each app's fetch module) for the issue's
loyalty, pipeline and campaign reports; and seed 001's customer profitability (客户利润分析: 边缘利润、
总利润额) over the sale lines whose cost is known."""

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, NullIf
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.accounts.models import Organisation
from guanxi.analytics.models import (
    AT_RISK_FROM,
    CustomerClass,
    CustomerMetric,
    CustomerMonth,
    LifecycleStage,
    RfmSegment,
    SalesDay,
    SalesLineDay,
)
from guanxi.analytics.reports.orders import ABC_A_SHARE, ABC_B_SHARE, PARETO_POINTS
from guanxi.commerce.models import Channel, Order, OrderLine, Store
from guanxi.core.display import label_of
from guanxi.loyalty import fetch as loyalty_fetch
from guanxi.marketing import effect as marketing_effect
from guanxi.marketing import fetch as marketing_fetch
from guanxi.reports.customer_filters import CUSTOMER_FILTERS, of_customers
from guanxi.reports.kit import (
    Dimension,
    Filter,
    Measure,
    Report,
    Scope,
    add_months,
    business_zone,
    month_range,
    percent,
)
from guanxi.sales import fetch as sales_fetch
from guanxi.sales.models import ForecastCategory
from guanxi.service import fetch as service_fetch
from guanxi.service.models import TicketChannel, TicketType

AT_RISK = AT_RISK_FROM  # a churn risk from here up counts a customer as at risk
RISK_BANDS = ((0.8, "high"), (0.65, "elevated"), (AT_RISK, "moderate"))


def _choices(enum):
    return lambda value: str(label_of(enum, value))


# Filters -----------------------------------------------------------------------------------------

CLASS_FILTER = Filter("class", gettext_lazy("Customer class"), lambda user: list(CustomerClass.choices))
CHANNEL_FILTER = Filter("channel", gettext_lazy("Channel"), lambda user: list(Channel.choices))
STORE_FILTER = Filter(
    "store",
    gettext_lazy("Store"),
    lambda user: [(str(s.pk), s.name) for s in Store.objects.restrict(user, "view").order_by("name")],
)
PERIOD_FILTER = Filter("period", gettext_lazy("Period"))
# Sources: the rows a user may see, narrowed to the scope ------------------------------------------


def metric_rows(user, scope: Scope) -> QuerySet:
    """Metric rows of the chosen unit, or the organisation-wide rows when all units are shown."""
    rows = CustomerMetric.objects.restrict(user, "view").filter(orders__gt=0)
    rows = rows.filter(unit=scope.unit) if scope.unit is not None else rows.filter(unit__isnull=True)
    if scope.customer_class:
        rows = rows.filter(customer_class=scope.customer_class)
    return of_customers(rows, user, scope)


def customer_months(user, scope: Scope) -> dict[date | None, CustomerMonth] | None:
    """The dashboards' customer counts of the scope's unit (or the organisation) by month, the row
    of None holding the customers at risk now; None until a metrics refresh has counted them (the
    metric rows are read instead)."""
    if not CustomerMonth.objects.exists():
        return None
    rows = CustomerMonth.objects.restrict(user, "view")
    rows = rows.filter(unit=scope.unit) if scope.unit is not None else rows.filter(unit__isnull=True)
    return {row.month: row for row in rows}


def at_risk_rows(user, scope: Scope) -> QuerySet:
    return metric_rows(user, scope).filter(churn_risk__gte=AT_RISK)


def lost_rows(user, scope: Scope) -> QuerySet:
    rows = metric_rows(user, scope).filter(lifecycle_stage=LifecycleStage.LOST)
    return rows.filter(**month_range("last_order_at", scope.start, scope.end))


def currency() -> str:
    """Amounts are never added across currencies: sales figures count the organisation's currency."""
    organisation = Organisation.objects.first()
    return organisation.default_currency if organisation else "CNY"


def sale_orders(user, scope: Scope) -> QuerySet:
    orders = Order.objects.restrict(user, "view").filter(status__in=Order.SALE_STATUSES, currency=currency())
    if scope.unit is not None:
        orders = orders.filter(unit=scope.unit)
    if scope.store:
        orders = orders.filter(store_id=int(scope.store) if scope.store.isdigit() else None)
    if scope.channel:
        orders = orders.filter(store__channel=scope.channel)
    orders = of_customers(orders, user, scope)
    return orders.filter(**month_range("placed_at", scope.start, scope.end))


def sale_lines(user, scope: Scope) -> QuerySet:
    return OrderLine.objects.filter(order__in=sale_orders(user, scope))


def _of_rollup(rows: QuerySet, scope: Scope) -> QuerySet:
    """Rollup rows narrowed as sale_orders narrows the orders: currency, unit, store, channel, months."""
    rows = rows.filter(currency=currency())
    if scope.unit is not None:
        rows = rows.filter(unit=scope.unit)
    if scope.store:
        rows = rows.filter(store_id=int(scope.store) if scope.store.isdigit() else None)
    if scope.channel:
        rows = rows.filter(channel=scope.channel)
    if scope.start is not None:
        rows = rows.filter(day__gte=scope.start)
    if scope.end is not None:
        rows = rows.filter(day__lt=add_months(scope.end, 1))
    return rows


def sale_days(user, scope: Scope) -> QuerySet:
    """The daily rollup of the scope's sale orders (guanxi.analytics.rollup): orders and net revenue."""
    return _of_rollup(SalesDay.objects.restrict(user, "view"), scope)


def sale_line_days(user, scope: Scope) -> QuerySet:
    """The daily rollup of the scope's sale lines per category: the sums of sale_lines."""
    return _of_rollup(SalesLineDay.objects.restrict(user, "view"), scope)


def margin_lines(user, scope: Scope) -> QuerySet:
    """Sale lines of the scope, each with its customer's class and ABC class (the metrics store row of
    the chosen unit, or the organisation-wide row when all units are shown, as the customer reports
    read them) and loyalty tier (the customer's membership of the line's own unit's programme)."""
    metrics = CustomerMetric.objects.filter(customer_id=OuterRef("customer_id"))
    metrics = metrics.filter(unit=scope.unit) if scope.unit is not None else metrics.filter(unit__isnull=True)
    tiers = loyalty_fetch.memberships(user).filter(
        customer_id=OuterRef("customer_id"), programme__unit_id=OuterRef("unit_id")
    )
    rows = sale_lines(user, scope).annotate(
        customer_class=Subquery(metrics.values("customer_class")[:1]),
        abc_class=Subquery(metrics.values("abc_class")[:1]),
        tier_name=Subquery(tiers.values("tier__name")[:1]),
    )
    if scope.customer_class:
        rows = rows.filter(customer_class=scope.customer_class)
    return rows


def ticket_rows(user, scope: Scope) -> QuerySet:
    rows = service_fetch.tickets(user)
    if scope.unit is not None:
        rows = rows.filter(unit=scope.unit)
    rows = of_customers(rows, user, scope)
    return rows.filter(**month_range("created_at", scope.start, scope.end))


def lot_rows(user, scope: Scope) -> QuerySet:
    """Open points lots of the loyalty programmes the user may see (through guanxi.loyalty.fetch)."""
    rows = loyalty_fetch.open_lots(user)
    rows = rows.filter(programme__unit=scope.unit) if scope.unit is not None else rows
    return of_customers(rows, user, scope)


def member_rows(user, scope: Scope) -> QuerySet:
    rows = loyalty_fetch.memberships(user)
    rows = rows.filter(programme__unit=scope.unit) if scope.unit is not None else rows
    return of_customers(rows, user, scope)


def pipeline_rows(user, scope: Scope) -> QuerySet:
    """Open opportunities the user may see (through guanxi.sales.fetch), in the organisation's currency."""
    rows = sales_fetch.open_opportunities(user, currency())
    return rows.filter(unit=scope.unit) if scope.unit is not None else rows


def quota_rows(user, scope: Scope) -> QuerySet:
    """Quotas of the period with what their reps won against them, deals closed in business time."""
    return _of_unit_and_months(sales_fetch.quotas_with_won(user, currency(), business_zone()), scope, "month")


def won_rows(user, scope: Scope) -> QuerySet:
    """Deals won that the user may see, in the organisation's currency, closed in the period (business
    time); `close_month` is the month each was closed in."""
    return _of_unit_and_months(
        sales_fetch.won_opportunities(user, currency(), business_zone()), scope, "close_month"
    )


def _of_unit_and_months(rows: QuerySet, scope: Scope, month_field: str) -> QuerySet:
    """Rows narrowed to the scope's unit and to its months, by a month column of the rows."""
    if scope.unit is not None:
        rows = rows.filter(unit=scope.unit)
    if scope.start is not None:
        rows = rows.filter(**{f"{month_field}__gte": scope.start})
    if scope.end is not None:
        rows = rows.filter(**{f"{month_field}__lte": scope.end})
    return rows


def won_behind(user, quotas: QuerySet) -> QuerySet:
    return sales_fetch.won_behind_quotas(user, quotas, business_zone())


def recipient_rows(user, scope: Scope) -> QuerySet:
    """Recipients of the campaigns sent in the period (through guanxi.marketing.fetch): the customers
    behind a campaign's figures."""
    rows = marketing_fetch.campaign_recipients(user)
    if scope.unit is not None:
        rows = rows.filter(campaign__unit=scope.unit)
    return rows.filter(**month_range("campaign__sent_at", scope.start, scope.end))


def sent_campaigns(user, scope: Scope) -> QuerySet:
    """The campaigns the user may see sent in the period (through guanxi.marketing.fetch)."""
    campaigns = marketing_fetch.sent_campaigns(user)
    if scope.unit is not None:
        campaigns = campaigns.filter(unit=scope.unit)
    return campaigns.filter(**month_range("sent_at", scope.start, scope.end))


def campaign_effects(user, scope: Scope) -> list[tuple[Any, str, dict[str, Any]]]:
    """Each campaign sent in the period with marketing's own effect figures (treated against holdout)."""
    out = []
    for campaign in sent_campaigns(user, scope):
        effect = marketing_effect.analyse(campaign)
        if effect is None:
            continue
        figures = {
            "treated": effect.treated.customers,
            "held_out": effect.holdout.customers,
            "conversion": Decimal(str(effect.treated.rate * 100)),
            "holdout_conversion": Decimal(str(effect.holdout.rate * 100)),
            "incremental": effect.incremental_revenue,
            "coupon_cost": effect.coupon_cost,
            "net": effect.incremental_revenue - effect.coupon_cost,
        }
        out.append((campaign.pk, campaign.name, figures))
    return out


def spend_curve(user, scope: Scope) -> dict[str, Any]:
    """The Pareto view of contribution: the customers of the report by total spend, largest first, each
    point the cumulative share of spend (y) made by the top share of customers (x), both in percent;
    dashed lines at the ABC limits (75 and 95 percent)."""
    spends = list(
        metric_rows(user, scope).order_by("-total_spend", "customer_id").values_list("total_spend", flat=True)
    )
    total = sum((Decimal(spend) for spend in spends), Decimal(0))
    count = len(spends)
    step = max(1, -(-count // PARETO_POINTS))  # ceil: one point per `step` customers
    points = [[0.0, 0.0]]
    running = Decimal(0)
    for rank, spend in enumerate(spends, start=1):
        running += Decimal(spend)
        if total > 0 and (rank % step == 0 or rank == count):
            points.append([float(percent(rank, count) or 0), float(percent(running, total) or 0)])
    return {
        "kind": "pareto",
        "points": points,
        "marks": [float(ABC_A_SHARE), float(ABC_B_SHARE)],
        "x_label": _("Share of customers (%)"),
        "y_label": _("Cumulative share of spend (%)"),
    }


# Dimensions --------------------------------------------------------------------------------------

CUSTOMER_CLASS = Dimension("class", gettext_lazy("Customer class"), "customer_class", _choices(CustomerClass))
ABC = Dimension("abc", gettext_lazy("ABC class"), "abc_class")
RFM = Dimension("rfm", gettext_lazy("RFM segment"), "rfm_segment", _choices(RfmSegment))
STAGE = Dimension("stage", gettext_lazy("Lifecycle stage"), "lifecycle_stage", _choices(LifecycleStage))
REGION = Dimension("region", gettext_lazy("Province"), "customer__province")
SOURCE = Dimension("source", gettext_lazy("Source channel"), "customer__source_channel", _choices(Channel))

_ONE_ORDER = Q(orders=1)
BUYING = Dimension(
    "buying",
    gettext_lazy("New or returning"),
    Case(When(_ONE_ORDER, then=Value("new")), default=Value("returning"), output_field=CharField()),
    lambda value: _("One order so far") if value == "new" else _("Ordered again"),
    lookup=lambda group: _ONE_ORDER if group == "new" else ~_ONE_ORDER,
)


def _risk_band_q(band: str) -> Q:
    bounds = dict((name, low) for low, name in RISK_BANDS)
    highs = {"high": None, "elevated": 0.8, "moderate": 0.65}
    if band not in bounds:
        return Q(pk__in=[])
    q = Q(churn_risk__gte=bounds[band])
    return q & Q(churn_risk__lt=highs[band]) if highs[band] is not None else q


RISK_LABELS = {
    "high": gettext_lazy("High (80% and above)"),
    "elevated": gettext_lazy("Elevated (65–80%)"),
    "moderate": gettext_lazy("Moderate (50–65%)"),
}
RISK_BAND = Dimension(
    "risk",
    gettext_lazy("Churn risk"),
    Case(
        *[When(churn_risk__gte=low, then=Value(name)) for low, name in RISK_BANDS],
        default=Value(""),
        output_field=CharField(),
    ),
    lambda value: str(RISK_LABELS.get(value, value)),
    lookup=lambda group: _risk_band_q(group or ""),
)
LAST_ORDER_MONTH = Dimension("month", gettext_lazy("Month of the last order"), "last_order_at", month=True)

CATEGORY = Dimension("category", gettext_lazy("Category"), "category", rollup="category")
PRODUCT = Dimension("product", gettext_lazy("Product"), "name")
LINE_CHANNEL = Dimension(
    "channel", gettext_lazy("Channel"), "order__store__channel", _choices(Channel), rollup="channel"
)
LINE_MONTH = Dimension("month", gettext_lazy("Month"), "order__placed_at", month=True, rollup="day")


def _store_name(pk: Any) -> str:
    return Store.objects.filter(pk=pk).values_list("name", flat=True).first() or str(pk)


# By the store's id, not its name: two units may each have a store of the same name.
LINE_STORE = Dimension("store", gettext_lazy("Store"), "order__store_id", _store_name, rollup="store_id")
# The margin report's customer dimensions, over the annotations of margin_lines.
LINE_TIER = Dimension("tier", gettext_lazy("Tier"), "tier_name", empty_label=gettext_lazy("Not a member"))

AGENT = Dimension("agent", gettext_lazy("Agent"), "assignee__username")
TICKET_TYPE = Dimension("type", gettext_lazy("Type"), "ticket_type", _choices(TicketType))
TICKET_CHANNEL = Dimension("channel", gettext_lazy("Channel"), "channel", _choices(TicketChannel))
TICKET_MONTH = Dimension("month", gettext_lazy("Month opened"), "created_at", month=True)

PROGRAMME_UNIT = Dimension("unit", gettext_lazy("Business unit"), "programme__unit__name")
EXPIRY_MONTH = Dimension(
    "expiry",
    gettext_lazy("Month the points last until"),
    "last_day",
    month=True,
    empty_label=gettext_lazy("Never expire"),
)
TIER = Dimension("tier", gettext_lazy("Tier"), "tier__name")

STAGE_NAME = Dimension("stage", gettext_lazy("Stage"), "stage__name")
OWNER = Dimension("owner", gettext_lazy("Owner"), "owner__username")
UNIT = Dimension("unit", gettext_lazy("Business unit"), "unit__name")
FORECAST = Dimension(
    "forecast", gettext_lazy("Forecast category"), "forecast_category", _choices(ForecastCategory)
)
QUOTA_MONTH = Dimension("month", gettext_lazy("Month"), "month", lambda value: f"{value:%Y-%m}")
REP = Dimension("rep", gettext_lazy("Sales rep"), "user__username")

CAMPAIGN = Dimension("campaign", gettext_lazy("Campaign"), "campaign_id")

# Measures ----------------------------------------------------------------------------------------

CUSTOMERS = Measure("customers", gettext_lazy("Customers"), lambda: Count("customer_id"), share=True)
SPEND = Measure("spend", gettext_lazy("Total spend"), lambda: Sum("total_spend"), money=True, share=True)
AVERAGE_SPEND = Measure(
    "average_spend", gettext_lazy("Average total spend"), lambda: Avg("total_spend"), average=True
)
VALUE_AT_RISK = Measure(
    "value", gettext_lazy("Predicted lifetime value"), lambda: Sum("predicted_clv"), money=True
)
REVENUE = Measure(
    "revenue",
    gettext_lazy("Revenue"),
    lambda: Sum("amount"),
    money=True,
    share=True,
    rollup=lambda: Sum("revenue"),
)
QUANTITY = Measure(
    "quantity", gettext_lazy("Units sold"), lambda: Sum("quantity"), rollup=lambda: Sum("quantity")
)
LINE_ORDERS = Measure("orders", gettext_lazy("Orders"), lambda: Count("order_id", distinct=True))
BUYERS = Measure("buyers", gettext_lazy("Customers"), lambda: Count("order__customer_id", distinct=True))
TICKETS = Measure("tickets", gettext_lazy("Tickets"), lambda: Count("id"), share=True)
RESOLVED = Measure(
    "resolved", gettext_lazy("Resolved"), lambda: Count("id", filter=Q(resolved_at__isnull=False))
)
SLA_MET = Measure(
    "sla_met",
    gettext_lazy("Resolved within the SLA"),
    lambda: Count("id", filter=Q(resolved_at__isnull=False, resolution_breached_at__isnull=True)),
)
CSAT = Measure("csat", gettext_lazy("Average satisfaction (1–5)"), lambda: Avg("satisfaction"), average=True)

POINTS = Measure("outstanding", gettext_lazy("Outstanding points"), lambda: Sum("remaining"), share=True)
LIABILITY = Measure(
    "liability", gettext_lazy("Liability"), lambda: Sum("points_value"), money=True, share=True
)
POINT_HOLDERS = Measure("members", gettext_lazy("Members"), lambda: Count("customer_id", distinct=True))
MEMBERS = Measure("members", gettext_lazy("Members"), lambda: Count("id"), share=True)

OPPORTUNITIES = Measure("deals", gettext_lazy("Open opportunities"), lambda: Count("id"), share=True)
AMOUNT = Measure("amount_total", gettext_lazy("Amount"), lambda: Sum("amount"), money=True, share=True)
# Amount × the stage's win probability (%), summed exactly and divided by 100 afterwards.
WEIGHTED = Measure(
    "weighted",
    gettext_lazy("Weighted amount"),
    lambda: Sum(F("amount") * F("stage__probability")),
    money=True,
    per=100,
)
QUOTA = Measure("quota", gettext_lazy("Quota"), lambda: Sum("amount"), money=True)
WON = Measure("won_total", gettext_lazy("Won"), lambda: Sum("won"), money=True)
ATTAINMENT = Measure(
    "attainment",
    gettext_lazy("Attainment (%)"),
    lambda: ExpressionWrapper(
        Cast(Sum("won"), FloatField()) * Value(100.0) / NullIf(Cast(Sum("amount"), FloatField()), Value(0.0)),
        output_field=FloatField(),
    ),
    average=True,
)

# Margin: only lines whose unit cost is known have a cost and a profit; a line without one adds to the
# revenue alone (and lowers the share of revenue whose cost is known), never to the profit as if it
# had cost nothing.
_COSTED = Q(unit_cost__isnull=False)
_SUM_MONEY = DecimalField(max_digits=20, decimal_places=2)


def line_cost() -> ExpressionWrapper:
    return ExpressionWrapper(F("unit_cost") * F("quantity"), output_field=_SUM_MONEY)


def gross_profit() -> Sum:
    """Revenue less cost over the lines whose cost is known (None when there are none)."""
    return Sum(
        ExpressionWrapper(F("amount") - F("unit_cost") * F("quantity"), output_field=_SUM_MONEY),
        filter=_COSTED,
        output_field=_SUM_MONEY,
    )


def _ratio(part, whole) -> ExpressionWrapper:
    """part ÷ whole in percent, computed over the whole group (None when `whole` is zero or empty)."""
    return ExpressionWrapper(
        Cast(part, FloatField()) * Value(100.0) / NullIf(Cast(whole, FloatField()), Value(0.0)),
        output_field=FloatField(),
    )


def rollup_profit() -> Sum:
    """gross_profit over the sales rollup: its costed revenue less its cost."""
    return Sum(F("costed_revenue") - F("cost"), output_field=_SUM_MONEY)


PROFIT = Measure(
    "profit", gettext_lazy("Gross profit"), gross_profit, money=True, share=True, rollup=rollup_profit
)
COST = Measure(
    "cost",
    gettext_lazy("Cost"),
    lambda: Sum(line_cost(), filter=_COSTED, output_field=_SUM_MONEY),
    money=True,
    rollup=lambda: Sum("cost"),
)
MARGIN = Measure(
    "margin",
    gettext_lazy("Margin (%)"),
    lambda: _ratio(gross_profit(), Sum("amount", filter=_COSTED)),
    average=True,
    summable=False,
    rollup=lambda: _ratio(rollup_profit(), Sum("costed_revenue")),
)
COST_KNOWN = Measure(
    "cost_known",
    gettext_lazy("Revenue with a known cost (%)"),
    # Coalesced: a group whose lines all lack a cost has 0 % of its revenue costed, not an empty figure.
    lambda: _ratio(Coalesce(Sum("amount", filter=_COSTED), Value(Decimal(0))), Sum("amount")),
    average=True,
    summable=False,
    rollup=lambda: _ratio(Sum("costed_revenue"), Sum("revenue")),
)

# Campaign effect: figures of guanxi.marketing.effect, one row per campaign (never summed by SQL).
EFFECT_MEASURES = (
    Measure("net", gettext_lazy("Incremental revenue after coupon cost"), None, money=True),
    Measure("treated", gettext_lazy("Recipients (treated)"), None),
    Measure("held_out", gettext_lazy("Holdout"), None),
    Measure("conversion", gettext_lazy("Conversion, treated (%)"), None, average=True, summable=False),
    Measure(
        "holdout_conversion", gettext_lazy("Conversion, holdout (%)"), None, average=True, summable=False
    ),
    Measure("incremental", gettext_lazy("Incremental revenue"), None, money=True),
    Measure("coupon_cost", gettext_lazy("Coupon cost"), None, money=True),
)


REPORTS: tuple[Report, ...] = (
    Report(
        "contribution",
        gettext_lazy("Customer contribution"),
        gettext_lazy(
            "Which customers make the revenue: total spend by customer class, ABC class (A: the customers "
            "making the first 75 percent of revenue) and RFM segment, with each group's share."
        ),
        metric_rows,
        (CUSTOMER_CLASS, ABC, RFM),
        (SPEND, CUSTOMERS, AVERAGE_SPEND),
        drill="customers",
        filters=(CLASS_FILTER, *CUSTOMER_FILTERS),
        needs="analytics.view",
        curve=spend_curve,
    ),
    Report(
        "composition",
        gettext_lazy("Customer composition"),
        gettext_lazy(
            "Who the buying customers are: counts by new or returning, customer class, lifecycle stage, "
            "province and the channel they came from."
        ),
        metric_rows,
        (BUYING, CUSTOMER_CLASS, STAGE, REGION, SOURCE),
        (CUSTOMERS, SPEND),
        drill="customers",
        filters=(CLASS_FILTER, *CUSTOMER_FILTERS),
        needs="analytics.view",
    ),
    Report(
        "churn",
        gettext_lazy("Customers at risk"),
        gettext_lazy(
            "Customers whose churn risk is 50 percent or more, by risk band, customer class and lifecycle stage, "
            "with the lifetime value predicted for them."
        ),
        at_risk_rows,
        (RISK_BAND, CUSTOMER_CLASS, STAGE),
        (CUSTOMERS, SPEND, VALUE_AT_RISK),
        drill="customers",
        filters=(CLASS_FILTER, *CUSTOMER_FILTERS),
        needs="analytics.view",
    ),
    Report(
        "lost",
        gettext_lazy("Lost customers by period"),
        gettext_lazy(
            "Customers at the end of their decline (lost), by the month of their last order: when the "
            "customers who left stopped buying."
        ),
        lost_rows,
        (LAST_ORDER_MONTH, CUSTOMER_CLASS),
        (CUSTOMERS, SPEND),
        drill="customers",
        filters=(CLASS_FILTER, *CUSTOMER_FILTERS, PERIOD_FILTER),
        chart="columns",
        sort_by_value=False,
        needs="analytics.view",
    ),
    Report(
        "products",
        gettext_lazy("Sales by product"),
        gettext_lazy(
            "Sales composition by product, category, channel and month: the amounts of the order lines of "
            "paid orders in the period."
        ),
        sale_lines,
        (CATEGORY, PRODUCT, LINE_CHANNEL, LINE_MONTH),
        (REVENUE, QUANTITY, LINE_ORDERS, BUYERS),
        drill="orders",
        filters=(STORE_FILTER, CHANNEL_FILTER, *CUSTOMER_FILTERS, PERIOD_FILTER),
        needs="commerce.view",
        period_months=12,
    ),
    Report(
        "margin",
        gettext_lazy("Margin and profit per customer"),
        gettext_lazy(
            "Gross profit, cost and margin of the order lines of paid orders in the period, by customer "
            "class, ABC class, tier, store, category and month. Only lines whose cost is known count in the "
            "cost, profit and margin; the last column says how much of the revenue that is."
        ),
        margin_lines,
        (CUSTOMER_CLASS, ABC, LINE_TIER, LINE_STORE, CATEGORY, LINE_MONTH),
        (PROFIT, REVENUE, COST, MARGIN, COST_KNOWN),
        drill="customers",
        filters=(STORE_FILTER, CHANNEL_FILTER, CLASS_FILTER, *CUSTOMER_FILTERS, PERIOD_FILTER),
        # Customer class and ABC class are the metrics store's: the read-all roles (whose commerce.view
        # comes with it) see this report; a sales lead's sales figures stay on Sales by product.
        needs="analytics.view",
        period_months=12,
        rollup=sale_line_days,
    ),
    Report(
        "service",
        gettext_lazy("Service"),
        gettext_lazy(
            "Ticket volume, resolutions within the SLA and average satisfaction per agent, type, channel "
            "and month of the tickets opened in the period."
        ),
        ticket_rows,
        (AGENT, TICKET_TYPE, TICKET_CHANNEL, TICKET_MONTH),
        (TICKETS, RESOLVED, SLA_MET, CSAT),
        drill="tickets",
        filters=(*CUSTOMER_FILTERS, PERIOD_FILTER),
        needs="service.view",
        period_months=12,
    ),
    Report(
        "liability",
        gettext_lazy("Points liability"),
        gettext_lazy(
            "What the loyalty points not yet spent or expired would cost if redeemed: outstanding points "
            "times the programme's value of one point, by business unit and by the month they last until."
        ),
        lot_rows,
        (PROGRAMME_UNIT, EXPIRY_MONTH),
        (LIABILITY, POINTS, POINT_HOLDERS),
        drill="customers",
        filters=CUSTOMER_FILTERS,
        needs="loyalty.view",
    ),
    Report(
        "tiers",
        gettext_lazy("Members by tier"),
        gettext_lazy("How many members each loyalty tier holds, per tier and per business unit."),
        member_rows,
        (TIER, PROGRAMME_UNIT),
        (MEMBERS,),
        drill="customers",
        filters=CUSTOMER_FILTERS,
        needs="loyalty.view",
    ),
    Report(
        "pipeline",
        gettext_lazy("Sales pipeline"),
        gettext_lazy(
            "The open opportunities by stage, owner, business unit and forecast category: how many, their "
            "amount, and the amount weighted by each stage's win probability."
        ),
        pipeline_rows,
        (STAGE_NAME, OWNER, UNIT, FORECAST),
        (OPPORTUNITIES, AMOUNT, WEIGHTED),
        drill="opportunities",
        needs="sales.view",
    ),
    Report(
        "quota",
        gettext_lazy("Won against quota"),
        gettext_lazy(
            "What the sales reps won in the months they have a quota for, against that quota, by month, "
            "rep and business unit."
        ),
        quota_rows,
        (QUOTA_MONTH, REP, UNIT),
        (QUOTA, WON, ATTAINMENT),
        drill="opportunities",
        filters=(PERIOD_FILTER,),
        chart="columns",
        sort_by_value=False,
        needs="sales.view",
        period_months=12,
        drill_rows=won_behind,
    ),
    Report(
        "campaigns",
        gettext_lazy("Campaign effect"),
        gettext_lazy(
            "What each campaign sent in the period brought beyond what its customers would have bought "
            "anyway: its recipients against its holdout, as Marketing measures it."
        ),
        recipient_rows,
        (CAMPAIGN,),
        EFFECT_MEASURES,
        drill="customers",
        filters=(PERIOD_FILTER,),
        needs="marketing.view",
        period_months=12,
        figures=campaign_effects,
    ),
)

BY_SLUG = {report.slug: report for report in REPORTS}

# The Analytics page's analyses, declared in their own module over the sources above (ADR 0038, "One
# engine for the Analytics page").
from guanxi.reports.analyses import ANALYSES  # noqa: E402

REPORTS = (*REPORTS, *ANALYSES)
BY_SLUG = {report.slug: report for report in REPORTS}
