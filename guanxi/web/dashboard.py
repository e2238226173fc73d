"""The dashboard's figures, read from the orders and customers the user may see.

The period is the last 24 calendar months in the business time zone, this month included.
Revenue is the total of sale orders (Order.SALE_STATUSES) in the organisation's currency;
sale orders in other currencies are counted separately instead of being added up wrongly.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.accounts.models import BusinessUnit, Organisation
from guanxi.commerce.models import Channel, Order
from guanxi.core.display import label_of
from guanxi.core.money import round_money
from guanxi.customers.models import Customer, CustomerUnit

PERIOD_MONTHS = 24
PIE_SLICES = 6  # the largest slices; the rest are shown together as "Other"


@dataclass(frozen=True)
class MonthFigures:
    month: date  # first day of the month
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class Slice:
    label: str
    count: int


@dataclass(frozen=True)
class Dashboard:
    currency: str
    period_start: date
    period_end: date  # last day included
    customers: int
    orders: int  # placed in the period, any status
    sale_orders: int  # placed in the period with a sale status, any currency
    revenue: Decimal
    average_order_value: Decimal | None
    other_currency_sale_orders: int
    buyers: int  # customers with a sale order in the period
    repeat_buyers: int  # ... with two or more
    months: tuple[MonthFigures, ...]
    customers_by_unit: tuple[Slice, ...]
    customers_by_source: tuple[Slice, ...]
    orders_by_channel: tuple[Slice, ...]
    has_data: bool

    @property
    def repeat_share(self) -> Decimal | None:
        """Percentage of buyers who bought more than once, to one decimal place."""
        if not self.buyers:
            return None
        return (Decimal(self.repeat_buyers) * 100 / self.buyers).quantize(Decimal("0.1"))


def business_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _month_starts(today: date) -> list[date]:
    index = today.year * 12 + today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - PERIOD_MONTHS + 1, index + 1)]


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def build_dashboard(user: Any, today: date | None = None) -> Dashboard:
    zone = business_zone()
    today = today or timezone.localdate(timezone=zone)
    months = _month_starts(today)
    start = datetime(months[0].year, months[0].month, 1, tzinfo=zone)
    end_day = _next_month(months[-1])
    end = datetime(end_day.year, end_day.month, 1, tzinfo=zone)
    organisation = Organisation.objects.first()
    currency = organisation.default_currency if organisation else "CNY"

    orders = Order.objects.restrict(user, "view")
    customers = Customer.objects.restrict(user, "view")
    in_period = orders.filter(placed_at__gte=start, placed_at__lt=end)
    sales = in_period.filter(status__in=Order.SALE_STATUSES)
    revenue_filter = Q(status__in=Order.SALE_STATUSES, currency=currency)

    totals = in_period.aggregate(
        orders=Count("id"),
        sale_orders=Count("id", filter=Q(status__in=Order.SALE_STATUSES)),
        revenue_orders=Count("id", filter=revenue_filter),
        revenue=Sum("total_amount", filter=revenue_filter),
    )
    revenue = totals["revenue"] or Decimal("0.00")
    by_month = {
        timezone.localtime(row["month"], zone).date(): row
        for row in in_period.annotate(month=TruncMonth("placed_at", tzinfo=zone))
        .values("month")
        .annotate(orders=Count("id"), revenue=Sum("total_amount", filter=revenue_filter))
        .order_by("month")
    }
    per_buyer = sales.filter(customer__isnull=False).values("customer").annotate(bought=Count("id"))
    customer_count = customers.count()

    return Dashboard(
        currency=currency,
        period_start=months[0],
        period_end=_last_day(months[-1]),
        customers=customer_count,
        orders=totals["orders"],
        sale_orders=totals["sale_orders"],
        revenue=revenue,
        average_order_value=(
            round_money(revenue / totals["revenue_orders"]) if totals["revenue_orders"] else None
        ),
        other_currency_sale_orders=totals["sale_orders"] - totals["revenue_orders"],
        buyers=per_buyer.count(),
        repeat_buyers=per_buyer.filter(bought__gte=2).count(),
        months=tuple(
            MonthFigures(
                month,
                by_month[month]["orders"] if month in by_month else 0,
                (by_month[month]["revenue"] if month in by_month else None) or Decimal("0.00"),
            )
            for month in months
        ),
        customers_by_unit=_customers_by_unit(user, customers),
        customers_by_source=_top_slices(
            (_channel_label(row["source_channel"]), row["n"])
            for row in customers.values("source_channel").annotate(n=Count("id")).order_by("-n")
        ),
        orders_by_channel=_top_slices(
            (_channel_label(row["store__channel"]), row["n"])
            for row in in_period.values("store__channel").annotate(n=Count("id")).order_by("-n")
        ),
        has_data=customer_count > 0 or orders.exists(),
    )


def _last_day(month: date) -> date:
    return date.fromordinal(_next_month(month).toordinal() - 1)


def _customers_by_unit(user: Any, customers) -> tuple[Slice, ...]:
    links = CustomerUnit.objects.filter(
        customer__in=customers.values("pk"), unit__in=BusinessUnit.objects.restrict(user, "view")
    )
    rows = links.values("unit__code", "unit__name").annotate(n=Count("customer", distinct=True))
    return tuple(Slice(row["unit__name"], row["n"]) for row in rows.order_by("unit__code"))


def _channel_label(value: str) -> str:
    if not value:
        return _("Unknown")
    return label_of(Channel, value)


def _top_slices(rows) -> tuple[Slice, ...]:
    merged: dict[str, int] = {}
    for label, count in rows:  # labels can repeat: several raw values show as "Unknown"
        merged[label] = merged.get(label, 0) + count
    ranked = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    slices = [Slice(label, count) for label, count in ranked[:PIE_SLICES]]
    rest = sum(count for _label, count in ranked[PIE_SLICES:])
    if rest:
        slices.append(Slice(_("Other"), rest))
    return tuple(slices)


def chart_data(dashboard: Dashboard) -> dict[str, Any]:
    """What charts.js draws. Amounts become numbers only here, for the browser."""
    return {
        "monthly": {
            "kind": "orders_revenue",
            "labels": [month.month.strftime("%Y-%m") for month in dashboard.months],
            "orders": [month.orders for month in dashboard.months],
            "revenue": [float(month.revenue) for month in dashboard.months],
            "orders_label": _("Orders"),
            "revenue_label": _("Revenue (%(currency)s)") % {"currency": dashboard.currency},
        },
        "units": {
            "kind": "bar",
            "labels": [part.label for part in dashboard.customers_by_unit],
            "values": [part.count for part in dashboard.customers_by_unit],
            "series_label": _("Customers"),
        },
        "sources": _pie(dashboard.customers_by_source, _("Customers")),
        "channels": _pie(dashboard.orders_by_channel, _("Orders")),
    }


def _pie(slices: tuple[Slice, ...], series_label: str) -> dict[str, Any]:
    return {
        "kind": "pie",
        "series_label": series_label,
        "values": [{"name": part.label, "value": part.count} for part in slices],
    }
