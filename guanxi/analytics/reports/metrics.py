"""Store-level views of the per-customer metrics store (`CustomerMetric`).

Functions take a metrics queryset the caller has scoped (`CustomerMetric.objects.restrict(user, "view")`)
and narrowed to one scope: one business unit's rows, or the organisation-wide rows (unit NULL).
Mixing the two would count customers twice.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connections
from django.db.models import Avg, Count, F, Q, QuerySet, RowRange, Sum, Window

from guanxi.analytics.models import CustomerClass
from guanxi.analytics.reports.orders import AbcFigures, percent
from guanxi.core.money import round_money

SCORES = (1, 2, 3, 4, 5)
CLV_BINS = 10
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class RfmCell:
    r_score: int
    f_score: int
    customers: int
    mean_spend: Decimal | None  # average total spend of the cell's customers


@dataclass(frozen=True)
class ClvBin:
    low: Decimal
    high: Decimal | None  # None: the open-ended last bin
    customers: int


def rfm_grid(metrics: QuerySet) -> tuple[RfmCell, ...]:
    rows = {
        (row["r_score"], row["f_score"]): row
        for row in metrics.filter(r_score__isnull=False, f_score__isnull=False)
        .values("r_score", "f_score")
        .annotate(customers=Count("id"), mean_spend=Avg("total_spend"))
        .order_by()
    }
    cells = []
    for r in SCORES:
        for f in SCORES:
            row = rows.get((r, f))
            mean = row["mean_spend"] if row else None
            cells.append(
                RfmCell(r, f, row["customers"] if row else 0, None if mean is None else round_money(mean))
            )
    return tuple(cells)


def _nice_width(span: Decimal, bins: int) -> Decimal:
    """A round bin width (1, 2 or 5 × 10^n) so that `bins` bins cover `span`."""
    raw = span / bins
    if raw <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** raw.adjusted()
    return next(step * magnitude for step in (1, 2, 5, 10) if raw <= step * magnitude)


def clv_histogram(metrics: QuerySet, bins: int = CLV_BINS) -> tuple[tuple[ClvBin, ...], int]:
    """Customers by predicted CLV in equal bins from 0 up to the 95th percentile; the last bin is open,
    so a few very large values do not squeeze everyone else into the first bar."""
    values = metrics.filter(predicted_clv__isnull=False)
    count = values.count()
    if count == 0:
        return (), 0
    p95 = values.order_by("predicted_clv").values_list("predicted_clv", flat=True)[(count - 1) * 95 // 100]
    width = _nice_width(max(Decimal(p95), Decimal(1)), bins)
    edges = [width * k for k in range(bins)]
    counts = values.aggregate(
        **{
            f"bin{k}": Count(
                "id",
                filter=(Q(predicted_clv__lt=edges[k + 1]) if k + 1 < bins else Q())
                & (Q(predicted_clv__gte=edge) if k else Q()),  # the first bin also holds values below 0
            )
            for k, edge in enumerate(edges)
        }
    )
    return (
        tuple(
            ClvBin(edge, edges[k + 1] if k + 1 < bins else None, counts[f"bin{k}"])
            for k, edge in enumerate(edges)
        ),
        count,
    )


@dataclass(frozen=True)
class ClassAbc:
    customer_class: str
    label: str
    customers: int
    revenue: Decimal
    abc: tuple[AbcFigures, ...]


def abc_within_classes(metrics: QuerySet, a_share: Decimal, b_share: Decimal) -> tuple[ClassAbc, ...]:
    """Seed 002's customer composition analysis (客户构成分析): within each customer type, customers
    ranked by sales and split into A (about 75% of the type's cumulative sales), B (20%) and C (5%).
    The types are the seeds' customer classes (loyal, old, regular, new); customers who have not
    bought are not ranked, so potential customers never appear.

    Ranked in the database: window sums give each customer what the customers before them in their
    class spent, and the class's total; only twelve (class, A/B/C) counts and sums come back. Reading
    every metric row into Python instead cost about a second per 700,000 buyers on each page view."""
    ranked = (
        metrics.filter(total_spend__gt=0)
        .exclude(customer_class="")
        .annotate(
            spent_before=Window(
                Sum("total_spend"),
                partition_by=[F("customer_class")],
                order_by=[F("total_spend").desc(), F("customer_id").asc()],
                frame=RowRange(start=None, end=-1),
            ),
            class_spend=Window(Sum("total_spend"), partition_by=[F("customer_class")]),
        )
        .values("customer_class", "total_spend", "spent_before", "class_spend")
    )
    inner, params = ranked.query.sql_with_params()
    # A customer is in A while the customers before them made less than a_share% of the class's sales
    # (so A covers at least that share), in B while less than b_share%, in C after that.
    query = f"""
        SELECT customer_class,
               CASE WHEN COALESCE(spent_before, 0) * 100 < %s * class_spend THEN 'A'
                    WHEN COALESCE(spent_before, 0) * 100 < %s * class_spend THEN 'B'
                    ELSE 'C' END AS abc,
               COUNT(*), SUM(total_spend)
        FROM ({inner}) AS ranked
        GROUP BY 1, 2
    """  # noqa: S608 - the inner query is the ORM's, with its own parameters; nothing else is interpolated
    with connections[metrics.db].cursor() as cursor:
        cursor.execute(query, (a_share, b_share, *params))
        rows = cursor.fetchall()
    figures: dict[str, dict[str, tuple[int, Decimal]]] = defaultdict(dict)
    for customer_class, abc, customers, spend in rows:
        figures[customer_class][abc] = (customers, round_money(Decimal(str(spend))))
    return tuple(
        _class_abc(value, str(label), figures[value])
        for value, label in CustomerClass.choices
        if value in figures
    )


def _class_abc(value: str, label: str, by_abc: dict[str, tuple[int, Decimal]]) -> ClassAbc:
    customers = sum(n for n, _spend in by_abc.values())
    revenue = sum((spend for _n, spend in by_abc.values()), ZERO)
    return ClassAbc(
        value,
        label,
        customers,
        revenue,
        tuple(
            AbcFigures(abc, n, spend, percent(n, customers), percent(spend, revenue))
            for abc in ("A", "B", "C")
            for n, spend in [by_abc.get(abc, (0, ZERO))]
        ),
    )
