"""The daily sales rollup (ADR 0044): the sale orders' and lines' sums per business-time-zone day,
store, currency and (for lines) product category, so the sales reports and the dashboards read a few
thousand rows instead of the period's order lines.

Refreshed with the metrics (guanxi.analytics.jobs): incrementally, only the days touched since the
last refresh are rebuilt — the days of orders added since (ids above the last one seen), the current
days of the orders of the customers the change feed names (an order updated in place: refunded,
cancelled, moved to another day) and the days those orders were last counted on (SalesRolledOrder).
Each touched day's rows are deleted and rewritten by INSERT … SELECT in one transaction, so a reader
sees either the old day or the new one. A full refresh (`guanxi analyze --full`, or the first one)
rewrites every day.

Not seen by an incremental refresh: an order updated in place without a customer (the change feed
names customers) or deleted; the next full refresh corrects them.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from guanxi.analytics.models import (
    AT_RISK_FROM,
    CustomerMetric,
    CustomerMonth,
    LifecycleStage,
    SalesDay,
    SalesLineDay,
    SalesRolledOrder,
    SalesRollupMark,
)
from guanxi.commerce.models import Order, OrderLine
from guanxi.customers.models import CustomerChange

CHANGE_READER = "rollup"  # the rollup's name as a reader of the customer change feed
ID_BATCH = 5000  # changed customers per query
DAY_BATCH = 500  # days rebuilt per statement, so a long list of days never becomes one huge IN list
_MONEY = DecimalField(max_digits=20, decimal_places=2)
_ZERO = Value(Decimal("0.00"), output_field=_MONEY)


def business_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def refresh_sales_rollup(full: bool = False) -> dict[str, int]:
    """Bring the rollup up to date; full rewrites every day. Returns {"days": days rebuilt, "full": 0|1}."""
    with transaction.atomic():
        mark = SalesRollupMark.objects.select_for_update().order_by("pk").first()
        # Taken first: orders and changes arriving from now on are the next refresh's business. The
        # change rows are deleted as they are read, so a row committed meanwhile waits for the next run
        # (and a failed run puts them back by rolling back).
        highest = Order._base_manager.aggregate(highest=Max("pk"))["highest"] or 0
        changed = _take_changes()
        now = timezone.now()
        if full or mark is None:
            for model in (SalesDay, SalesLineDay, SalesRolledOrder):
                model._base_manager.all().delete()
            _insert(None)
            days = SalesDay._base_manager.values("day").distinct().count()
            mark = mark or SalesRollupMark()
            mark.rebuilt_at = now
            full = True
        else:
            touched_days = sorted(_touched_days(mark.last_order_id, changed))
            for start in range(0, len(touched_days), DAY_BATCH):
                batch = touched_days[start : start + DAY_BATCH]
                for model in (SalesDay, SalesLineDay, SalesRolledOrder):
                    model._base_manager.filter(day__in=batch).delete()
                _insert(batch)
            days = len(touched_days)
        mark.last_order_id = highest
        mark.refreshed_at = now
        mark.save()
    return {"days": days, "full": int(full)}


def _take_changes() -> list[int]:
    """Delete the rollup's rows of the customer change feed; the customers they named."""
    table = connection.ops.quote_name(CustomerChange._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE reader = %s RETURNING customer_id", [CHANGE_READER])  # noqa: S608
        return sorted({row[0] for row in cursor.fetchall()})


def _touched_days(last_order_id: int, changed: list[int]) -> set[date]:
    """The days whose rows may be stale: where the orders added since `last_order_id` and the orders of
    the changed customers count now (sale orders only) and where they were counted before. Separate
    queries, each by its own index (the primary key; customer and date), rather than one OR."""
    days: set[date] = set()
    parts = [Order._base_manager.filter(pk__gt=last_order_id)] + [
        Order._base_manager.filter(customer_id__in=changed[start : start + ID_BATCH])
        for start in range(0, len(changed), ID_BATCH)
    ]
    for touched in parts:
        before = SalesRolledOrder.objects.filter(order_id__in=touched.values("pk"))
        days.update(before.values_list("day", flat=True).distinct())
        now = _with_day(touched.filter(status__in=Order.SALE_STATUSES))
        days.update(now.values_list("day", flat=True).distinct())
    return days


def rollup_ready() -> bool:
    """Whether the rollup has been built at least once (before that, reports read the lines)."""
    return SalesRollupMark.objects.exists()


def _with_day(orders: QuerySet) -> QuerySet:
    return orders.annotate(day=TruncDate("placed_at", tzinfo=business_zone()))


def _sale_orders(days: list[date] | None) -> QuerySet:
    orders = _with_day(Order._base_manager.filter(status__in=Order.SALE_STATUSES))
    if days is None:
        return orders
    # The placed_at range first (its index), then the exact days within it.
    zone = business_zone()
    orders = orders.filter(
        placed_at__gte=datetime.combine(min(days), time(), zone),
        placed_at__lt=datetime.combine(max(days) + timedelta(days=1), time(), zone),
    )
    return orders.filter(day__in=days)


def _insert(days: list[date] | None) -> None:
    """Write the rows of `days` (None: every day) of the three tables by INSERT … SELECT."""
    orders = _sale_orders(days)
    _insert_select(SalesRolledOrder, ["order_id", "day"], orders.values_list("pk", "day").order_by())
    _insert_select(
        SalesDay,
        ["unit_id", "store_id", "channel", "currency", "day", "orders", "net_revenue"],
        orders.values("unit_id", "store_id", "store__channel", "currency", "day")
        .annotate(
            n=Count("pk"),
            net=Coalesce(Sum(F("total_amount") - F("refunded_amount"), output_field=_MONEY), _ZERO),
        )
        .order_by(),
    )
    zone = business_zone()
    lines = OrderLine.objects.filter(order__in=orders.values("pk")).annotate(
        day=TruncDate("order__placed_at", tzinfo=zone)
    )
    costed = Q(unit_cost__isnull=False)
    _insert_select(
        SalesLineDay,
        [
            "unit_id",
            "store_id",
            "channel",
            "currency",
            "day",
            "category",
            "orders",
            "lines",
            "quantity",
            "revenue",
            "costed_revenue",
            "cost",
        ],
        lines.values(
            "order__unit_id", "order__store_id", "order__store__channel", "order__currency", "day", "category"
        )
        .annotate(
            n_orders=Count("order_id", distinct=True),
            n_lines=Count("pk"),
            qty=Coalesce(Sum("quantity"), 0),
            rev=Coalesce(Sum("amount", output_field=_MONEY), _ZERO),
            costed_rev=Coalesce(Sum("amount", filter=costed, output_field=_MONEY), _ZERO),
            line_cost=Coalesce(
                Sum(ExpressionWrapper(F("unit_cost") * F("quantity"), output_field=_MONEY), filter=costed),
                _ZERO,
            ),
        )
        .order_by(),
    )


def _insert_select(model, columns: list[str], rows: QuerySet) -> None:
    """INSERT INTO model's table (columns) SELECT the queryset's columns, in their order."""
    sql, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({names}) {sql}", params)


def rebuild_customer_counts() -> None:
    """Count the metric rows into CustomerMonth (three grouped queries, a few hundred rows written);
    inside the transaction that wrote the metric rows."""
    zone = business_zone()
    rows = CustomerMetric.objects.filter(orders__gt=0)
    counts: dict[tuple[int | None, date | None], dict[str, int]] = {}

    def add(measure: str, grouped: QuerySet) -> None:
        for unit_id, month, count in (
            grouped.values_list("unit_id", "month").annotate(n=Count("id")).order_by()
        ):
            if isinstance(month, datetime):
                month = month.astimezone(zone).date()
            counts.setdefault((unit_id, month), {})[measure] = count

    add(
        "new_customers",
        rows.exclude(first_order_at=None).annotate(month=TruncMonth("first_order_at", tzinfo=zone)),
    )
    lost = rows.filter(lifecycle_stage=LifecycleStage.LOST).exclude(last_order_at=None)
    add("lost_customers", lost.annotate(month=TruncMonth("last_order_at", tzinfo=zone)))
    add(
        "at_risk",
        rows.filter(churn_risk__gte=AT_RISK_FROM).annotate(
            month=Value(None, output_field=models.DateField())
        ),
    )
    CustomerMonth.objects.all().delete()
    CustomerMonth.objects.bulk_create(
        [
            CustomerMonth(unit_id=unit_id, month=month, **measures)
            for (unit_id, month), measures in counts.items()
        ],
        batch_size=2000,
    )
