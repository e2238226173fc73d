"""The Analytics page's analyses as reports of the kit (ADR 0038, "One engine for the Analytics page").

Sales by channel and province are group-by reports the kit aggregates; sales by category, the ABC
classes and the lifecycle stages are the catalogue's own reports grouped that way. The analyses that
are no group-by (the cohort matrix, the new and returning split, the device shares, the Pareto classes,
the ABC classes within each customer class, the seasonal index, the RFM grid and the lifetime value
histogram) give their figures through the kit's `figures` hook, computed where they were:
guanxi.analytics.reports. Every one has a source of the rows behind its groups, so each gets the kit's
drill-down, export, permalink and delivery.

Without a period in the scope they run up to the month of the last sale (as the Analytics page always
did), so an import of last year's history shows last year rather than empty months.
"""

from datetime import date
from decimal import Decimal
from typing import Any, cast

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.analytics.conf import analytics_config
from guanxi.analytics.models import CustomerClass, CustomerMetric
from guanxi.analytics.reports import metrics as metric_reports
from guanxi.analytics.reports import orders as order_reports
from guanxi.commerce.models import Channel, Order
from guanxi.core.display import label_of
from guanxi.reports.customer_filters import CUSTOMER_FILTERS, of_customers
from guanxi.reports.kit import Dimension, Figures, Measure, Report, Scope, month_range

PERIOD_MONTHS = 12  # the period of the sales breakdowns and the cohorts shown
ABC_LETTERS = ("A", "B", "C")


def _currency() -> str:
    from guanxi.reports.catalogue import currency  # the catalogue imports this module at its end

    return currency()


# Sources: the rows behind each analysis, restricted to what the user may see and to the scope's unit.


def unit_orders(user, scope: Scope) -> QuerySet:
    """Every order of the scope's unit the user may see: what the analyses of guanxi.analytics take."""
    orders = Order.objects.restrict(user, "view")
    return orders.filter(unit=scope.unit) if scope.unit is not None else orders


def customer_orders(user, scope: Scope) -> QuerySet:
    """The unit's orders of the customers of the scope's tier and segment (all of them without either):
    what the analyses about customers rank and group."""
    return of_customers(unit_orders(user, scope), user, scope)


def sales(user, scope: Scope) -> QuerySet:
    """Sale orders of the scope in the organisation's currency, each its own drill-down row."""
    orders = order_reports.sale_orders(unit_orders(user, scope), _currency())
    if scope.store:
        orders = orders.filter(store_id=int(scope.store) if scope.store.isdigit() else None)
    if scope.channel:
        orders = orders.filter(store__channel=scope.channel)
    orders = orders.filter(**month_range("placed_at", scope.start, scope.end))
    return orders.annotate(order_id=F("id"))


def first_sales(user, scope: Scope) -> QuerySet:
    """The customers' sale orders, each with the time of its customer's first sale order in the scope."""
    orders = order_reports.sale_orders(customer_orders(user, scope), _currency())
    first = orders.filter(customer=OuterRef("customer")).order_by("placed_at").values("placed_at")[:1]
    return orders.filter(customer__isnull=False).annotate(first_at=Subquery(first), order_id=F("id"))


def season_sales(user, scope: Scope) -> QuerySet:
    """Sale orders of the full years the seasonal index uses."""
    orders = order_reports.sale_orders(unit_orders(user, scope), _currency())
    years = order_reports.seasonal_index(orders, _currency(), timezone.now()).years
    return orders.filter(placed_at__year__in=years).annotate(order_id=F("id"))


def scope_metrics(user, scope: Scope) -> QuerySet:
    """Every metric row of the scope (the unit's, or the organisation-wide ones for all units), of the
    customers of its class, tier and segment when chosen."""
    rows = CustomerMetric.objects.restrict(user, "view")
    rows = rows.filter(unit=scope.unit) if scope.unit is not None else rows.filter(unit__isnull=True)
    rows = rows.filter(customer_class=scope.customer_class) if scope.customer_class else rows
    return of_customers(rows, user, scope)


def ranked_metrics(user, scope: Scope) -> QuerySet:
    """The buyers ranked within their customer class (as metric_reports.abc_within_classes ranks them)."""
    return scope_metrics(user, scope).filter(total_spend__gt=0).exclude(customer_class="")


def last_sale_month(user, scope: Scope) -> date | None:
    return order_reports.last_sale_month(unit_orders(user, scope), _currency(), timezone.now())


def _months(scope: Scope, default: int) -> int:
    if scope.start is None or scope.end is None:
        return default
    return max(1, order_reports.months_between(scope.start, scope.end) + 1)


def abc_shares() -> tuple[Decimal, Decimal]:
    """A's and B's cumulative revenue shares (%): the metrics store's, so that the curve, the classes and
    the split within customer classes agree."""
    config = analytics_config()
    return Decimal(str(config.ABC_A_SHARE)) * 100, Decimal(str(config.ABC_B_SHARE)) * 100


# Figures computed by guanxi.analytics.reports ----------------------------------------------------


def cohort_figures(user, scope: Scope) -> Figures:
    end = scope.end or last_sale_month(user, scope)
    if end is None:
        return []
    matrix = order_reports.cohort_retention(
        customer_orders(user, scope), _currency(), end, cohorts=_months(scope, order_reports.COHORT_MONTHS)
    )
    return [
        (
            row.month,
            f"{row.month:%Y-%m}",
            {"customers": row.customers, **{f"m{k}": share for k, share in enumerate(row.shares, start=1)}},
        )
        for row in matrix.rows
    ]


def returning_figures(user, scope: Scope) -> Figures:
    end = scope.end or last_sale_month(user, scope)
    if end is None:
        return []
    splits = order_reports.returning_revenue(
        unit_orders(user, scope), _currency(), end, months=_months(scope, order_reports.TREND_MONTHS)
    )
    return [
        (
            split.month,
            f"{split.month:%Y-%m}",
            {"new": split.new, "returning": split.returning, "returning_share": split.returning_share},
        )
        for split in splits
    ]


def device_figures(user, scope: Scope) -> Figures:
    end = scope.end or last_sale_month(user, scope)
    if end is None:
        return []
    months = order_reports.device_share(
        unit_orders(user, scope), _currency(), end, months=_months(scope, order_reports.TREND_MONTHS)
    )
    return [
        (
            month.month,
            f"{month.month:%Y-%m}",
            {
                "mobile": month.mobile,
                "pc": month.pc,
                "other": month.other,
                "mobile_share": month.mobile_share,
                "pc_share": month.pc_share,
                "other_share": order_reports.percent(month.other, month.total),
            },
        )
        for month in months
    ]


def pareto_figures(user, scope: Scope) -> tuple[Figures, dict[str, Any]]:
    """The ABC classes and the Pareto curve, from the one ranking of the customers by spend."""
    pareto = order_reports.pareto(customer_orders(user, scope), _currency(), *abc_shares())
    figures = [
        (
            figures.abc_class,
            figures.abc_class,
            {
                "customers": figures.customers,
                "customer_share": figures.customer_share,
                "revenue": figures.revenue,
                "revenue_share": figures.revenue_share,
            },
        )
        for figures in pareto.classes
    ]
    curve = {
        "kind": "pareto",
        "points": [[float(p.customer_share), float(p.revenue_share)] for p in pareto.points],
        "marks": [float(pareto.a_share), float(pareto.b_share)],
        "x_label": _("Share of customers (%)"),
        "y_label": _("Share of revenue (%)"),
    }
    return figures, curve


def class_abc_figures(user, scope: Scope) -> Figures:
    out = []
    for row in metric_reports.abc_within_classes(scope_metrics(user, scope), *abc_shares()):
        values: dict[str, Any] = {"customers": row.customers, "revenue": row.revenue}
        for abc in row.abc:
            values[f"{abc.abc_class.lower()}_customers"] = abc.customer_share
            values[f"{abc.abc_class.lower()}_revenue"] = abc.revenue_share
        out.append((row.customer_class, row.label, values))
    return out


def seasonal_figures(user, scope: Scope) -> Figures:
    index = order_reports.seasonal_index(unit_orders(user, scope), _currency(), timezone.now())
    return [
        (
            month.month,
            str(MONTHS[month.month]),
            {
                "index": month.index_percent,
                "average": month.average,
                "share": order_reports.percent(month.revenue, index.total),
            },
        )
        for month in index.months
    ]


def rfm_figures(user, scope: Scope) -> Figures:
    cells = metric_reports.rfm_grid(scope_metrics(user, scope))
    out = []
    for r_score in metric_reports.SCORES:
        row = [cell for cell in cells if cell.r_score == r_score]
        values: dict[str, Any] = {f"f{cell.f_score}": cell.customers for cell in row}
        values["customers"] = sum(cell.customers for cell in row)
        out.append((r_score, str(r_score), values))
    return out


def _bin_token(index: int, low: Decimal, high: Decimal | None) -> str:
    """A bin as a group value that sorts in bin order and says its bounds: "03:300:400"."""
    return f"{index:02d}:{low}:{'' if high is None else high}"


def _bin_label(token: str) -> str:
    _index, low, high = token.split(":")
    if not high:
        return f"≥ {Decimal(low):,.0f}"
    return f"{Decimal(low):,.0f}–{Decimal(high):,.0f}"


def _bin_q(token: str | None) -> Q:
    parts = (token or "").split(":")
    try:
        index, low, high = int(parts[0]), Decimal(parts[1]), (Decimal(parts[2]) if parts[2] else None)
    except (ValueError, IndexError, ArithmeticError):
        return Q(pk__in=[])
    q = Q(predicted_clv__isnull=False)
    if index:  # the first bin also holds values below 0
        q &= Q(predicted_clv__gte=low)
    return q & Q(predicted_clv__lt=high) if high is not None else q


def clv_figures(user, scope: Scope) -> Figures:
    bins, _count = metric_reports.clv_histogram(scope_metrics(user, scope))
    out = []
    for index, clv_bin in enumerate(bins):
        token = _bin_token(index, clv_bin.low, clv_bin.high)
        out.append((token, _bin_label(token), {"customers": clv_bin.customers}))
    return out


# Dimensions and measures ----------------------------------------------------------------------------

ORDER_CHANNEL = Dimension(
    "channel", gettext_lazy("Channel"), "store__channel", lambda value: str(label_of(Channel, value))
)
# Guests (no customer) and customers without a province are one "Unknown" group.
PROVINCE = Dimension(
    "province",
    gettext_lazy("Province"),
    Coalesce("customer__province", Value("")),
    lookup=lambda token: (
        Q(customer__province=token) if token else Q(customer__isnull=True) | Q(customer__province="")
    ),
)
DEVICE = Dimension(
    "device", gettext_lazy("Device"), "device", lambda value: str(label_of(Order.Device, value))
)
ORDER_MONTH = Dimension("month", gettext_lazy("Month"), "placed_at", month=True)
COHORT = Dimension("cohort", gettext_lazy("First order month"), "first_at", month=True)
ABC_CLASS = Dimension("abc", gettext_lazy("Class"), "abc_class")
CUSTOMER_CLASS = Dimension(
    "class",
    gettext_lazy("Customer class"),
    "customer_class",
    lambda value: str(label_of(CustomerClass, value)),
)
CALENDAR_MONTH = Dimension(
    "month",
    gettext_lazy("Month"),
    "placed_at",
    lambda value: str(MONTHS[int(value)]),
    lookup=lambda token: Q(placed_at__month=int(token)) if (token or "").isdigit() else Q(pk__in=[]),
)
R_SCORE = Dimension("r", gettext_lazy("R score"), "r_score")
CLV_BAND = Dimension(
    "band", gettext_lazy("Predicted lifetime value"), "predicted_clv", _bin_label, lookup=_bin_q
)

NET_REVENUE = Measure(
    "revenue", gettext_lazy("Revenue"), lambda: Sum(order_reports.NET), money=True, share=True
)
ORDERS = Measure("orders", gettext_lazy("Orders"), lambda: Count("id"))


def _shares_of(key: str, label) -> Measure:
    return Measure(key, label, None, average=True, summable=False)


def _lazy_label(template: Promise, **values: Any) -> Promise:
    """A translated label with values, translated when shown (not when this module is imported)."""
    return cast(Promise, lazy(lambda: str(template) % values, str)())


COHORT_MEASURES = (
    Measure("customers", gettext_lazy("Customers"), None),
    *[
        _shares_of(f"m{k}", _lazy_label(gettext_lazy("Month +%(offset)s (%%)"), offset=k))
        for k in range(1, order_reports.COHORT_MONTHS + 1)
    ],
)
RFM_MEASURES = (
    Measure("customers", gettext_lazy("Customers"), None),
    *[
        Measure(f"f{k}", _lazy_label(gettext_lazy("F score %(score)s"), score=k), None)
        for k in metric_reports.SCORES
    ],
)

ANALYSES: tuple[Report, ...] = (
    Report(
        "order-sales",
        gettext_lazy("Sales by channel and province"),
        gettext_lazy(
            "Revenue of paid orders (less refunds) by the channel of the store that took them, the customer's "
            "province and the device they were placed on."
        ),
        sales,
        (ORDER_CHANNEL, PROVINCE, DEVICE),
        (NET_REVENUE, ORDERS),
        drill="orders",
        needs="analytics.view",
        period_months=PERIOD_MONTHS,
    ),
    Report(
        "cohorts",
        gettext_lazy("Cohort retention"),
        gettext_lazy(
            "Customers grouped by the month of their first order; each column is the share of them who "
            "ordered again that many months later."
        ),
        first_sales,
        (COHORT,),
        COHORT_MEASURES,
        drill="customers",
        chart="heatmap",
        sort_by_value=False,
        filters=CUSTOMER_FILTERS,
        needs="analytics.view",
        figures=cohort_figures,
        series=tuple(f"m{k}" for k in range(1, order_reports.COHORT_MONTHS + 1)),
    ),
    Report(
        "returning",
        gettext_lazy("Revenue from new and returning customers"),
        gettext_lazy(
            "Each month's revenue from customers in their first month (and guests) and from customers whose "
            "first order was in an earlier month (老客户销售占比)."
        ),
        sales,
        (ORDER_MONTH,),
        (
            Measure("new", gettext_lazy("New customers"), None, money=True),
            Measure("returning", gettext_lazy("Returning customers"), None, money=True),
            _shares_of("returning_share", gettext_lazy("Returning share (%)")),
        ),
        drill="orders",
        chart="stacked",
        sort_by_value=False,
        needs="analytics.view",
        figures=returning_figures,
        series=("new", "returning"),
    ),
    Report(
        "devices",
        gettext_lazy("Mobile and PC"),
        gettext_lazy(
            "Each month's revenue by the device the order was placed on (mobile includes the app), and "
            "each device's share of it."
        ),
        sales,
        (ORDER_MONTH,),
        (
            Measure("mobile", gettext_lazy("Mobile"), None, money=True),
            Measure("pc", gettext_lazy("PC"), None, money=True),
            Measure("other", gettext_lazy("Other or unknown"), None, money=True),
            _shares_of("mobile_share", gettext_lazy("Mobile share (%)")),
            _shares_of("pc_share", gettext_lazy("PC share (%)")),
            _shares_of("other_share", gettext_lazy("Other or unknown, share (%)")),
        ),
        drill="orders",
        chart="shares",
        sort_by_value=False,
        needs="analytics.view",
        figures=device_figures,
        series=("mobile_share", "pc_share", "other_share"),
    ),
    Report(
        "pareto",
        gettext_lazy("ABC analysis"),
        gettext_lazy(
            "Customers sorted by what they spent on paid orders, largest first: class A makes the first 75 "
            "percent of revenue, B up to 95 percent, C the rest. The drill-down lists the customers the "
            "metrics store put in the class at its last refresh."
        ),
        scope_metrics,
        (ABC_CLASS,),
        (
            Measure("customers", gettext_lazy("Customers"), None),
            _shares_of("customer_share", gettext_lazy("Share of customers (%)")),
            Measure("revenue", gettext_lazy("Revenue"), None, money=True),
            _shares_of("revenue_share", gettext_lazy("Share of revenue (%)")),
        ),
        drill="customers",
        sort_by_value=False,
        filters=CUSTOMER_FILTERS,
        needs="analytics.view",
        figures_with_curve=pareto_figures,
    ),
    Report(
        "abc-by-class",
        gettext_lazy("ABC within each customer class"),
        gettext_lazy(
            "The requirement documents' customer composition analysis: within each customer class, the "
            "customers who bought are ranked by spend; A makes the first 75 percent of the class's revenue, "
            "B up to 95 percent, C the rest."
        ),
        ranked_metrics,
        (CUSTOMER_CLASS,),
        (
            Measure("customers", gettext_lazy("Customers"), None),
            Measure("revenue", gettext_lazy("Revenue"), None, money=True),
            *[
                _shares_of(
                    f"{letter.lower()}_customers",
                    _lazy_label(gettext_lazy("%(abc)s, share of customers (%%)"), abc=letter),
                )
                for letter in ABC_LETTERS
            ],
            *[
                _shares_of(
                    f"{letter.lower()}_revenue",
                    _lazy_label(gettext_lazy("%(abc)s, share of revenue (%%)"), abc=letter),
                )
                for letter in ABC_LETTERS
            ],
        ),
        drill="customers",
        chart="shares",
        sort_by_value=False,
        filters=CUSTOMER_FILTERS,
        needs="analytics.view",
        figures=class_abc_figures,
        series=("a_customers", "b_customers", "c_customers"),
    ),
    Report(
        "seasonal",
        gettext_lazy("Seasonal index"),
        gettext_lazy(
            "Each month's average revenue over the last (up to three) full years, divided by the average "
            "month (季节指数): 100 percent is an ordinary month."
        ),
        season_sales,
        (CALENDAR_MONTH,),
        (
            _shares_of("index", gettext_lazy("Seasonal index (%)")),
            Measure("average", gettext_lazy("Average revenue"), None, money=True),
            Measure("share", gettext_lazy("Share of the year (%)"), None, average=True),
        ),
        drill="orders",
        chart="columns",
        sort_by_value=False,
        needs="analytics.view",
        figures=seasonal_figures,
    ),
    Report(
        "rfm",
        gettext_lazy("RFM grid"),
        gettext_lazy(
            "Customers by recency score (R, 5 = bought most recently) and frequency score (F, 5 = buys most "
            "often)."
        ),
        scope_metrics,
        (R_SCORE,),
        RFM_MEASURES,
        drill="customers",
        chart="heatmap",
        sort_by_value=False,
        filters=CUSTOMER_FILTERS,
        needs="analytics.view",
        figures=rfm_figures,
        series=tuple(f"f{k}" for k in metric_reports.SCORES),
    ),
    Report(
        "clv",
        gettext_lazy("Predicted lifetime value"),
        gettext_lazy(
            "How many customers fall in each band of predicted future value; the last band holds the top "
            "5 percent and above."
        ),
        scope_metrics,
        (CLV_BAND,),
        (Measure("customers", gettext_lazy("Customers"), None),),
        drill="customers",
        chart="histogram",
        sort_by_value=False,
        filters=CUSTOMER_FILTERS,
        needs="analytics.view",
        figures=clv_figures,
    ),
)
