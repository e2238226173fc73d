"""Customer metrics refresh speed on the demo shop, on SQLite and PostgreSQL, beside a pandas baseline.

Each engine runs in a child process on a copy of the bench dataset (bench/_support.py: the demo shop
with metrics, built once per scale and kept). Measured, one line each:

- full refresh (`refresh_metrics(full=True)`: every scope, models refitted, backtest, rows written);
- incremental refresh after 1 % of the customers get one new order;
- the baseline: the straightforward pandas implementation of RFM and ABC (ORM `.values()` into a
  DataFrame, groupby, qcut, cumulative share), organisation-wide only and without writing anything,
  and how many times slower than the full refresh it is;
- peak resident memory of the child.

Run `python bench/analytics.py [customers]` (or `guanxi bench analytics --customers 1000000`);
`run(customers)` returns the printed lines.
"""

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_support.py, also under `guanxi bench`
from _support import on_each_dataset, run_child, start_django

DEFAULT_CUSTOMERS = 20_000
BUDGET_FULL_SECONDS_PER_MILLION = 60.0
BUDGET_INCREMENTAL_SECONDS = 5.0


def run(customers: int | None = None) -> list[str]:
    customers = customers or DEFAULT_CUSTOMERS
    lines = [
        f"Metrics refresh on the demo shop ({customers:,} customers); baseline = pandas groupby RFM + ABC "
        "(organisation-wide, no write)"
    ]
    for engine, result, error in on_each_dataset("gx-bench-analytics-", customers, _measure):
        lines += [f"{engine:<10} skipped: {error}"] if result is None else _report(engine, result)
    return lines


def _report(engine: str, result: dict) -> list[str]:
    budget = BUDGET_FULL_SECONDS_PER_MILLION * max(result["customers"], 1) / 1_000_000
    incremental_ok = result["incremental"] <= BUDGET_INCREMENTAL_SECONDS
    return [
        f"{engine:<10} full refresh              {result['full']:8.2f} s  ({result['customers']:,} customers, "
        f"{result['orders']:,} orders, {result['lines']:,} lines, {result['rows']:,} metric rows)  "
        f"budget {budget:.1f} s{'' if engine == 'postgresql' else ' (set for PostgreSQL only)'}: "
        f"{'within' if result['full'] <= budget else 'OVER'}",
        f"{engine:<10} incremental, 1% changed   {result['incremental']:8.2f} s  ({result['changed']:,} customers)  "
        f"budget {BUDGET_INCREMENTAL_SECONDS:.0f} s: {'within' if incremental_ok else 'OVER'}",
        f"{engine:<10} pandas baseline           {result['baseline']:8.2f} s  (RFM + ABC only, no write)",
        f"{engine:<10} ratio baseline / full     {result['baseline'] / result['full']:8.2f} x",
        f"{engine:<10} peak memory               {result['peak_mb']:8,.0f} MB",
    ]


def _measure(database_url: str, home: str) -> dict:
    return run_child(__file__, database_url, home, "--measure")


def _child() -> dict:
    start_django(fresh=False)
    from django.core.management import call_command

    from guanxi.analytics.models import CustomerMetric
    from guanxi.analytics.refresh import refresh_metrics
    from guanxi.commerce.models import Order, OrderLine
    from guanxi.customers.models import Customer

    call_command("migrate", verbosity=0)
    counts = {
        "customers": Customer.objects.count(),
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
    }
    started = time.perf_counter()
    refresh_metrics(full=True)
    full = time.perf_counter() - started
    baseline = _pandas_baseline()
    changed = _add_orders(max(1, counts["customers"] // 100))
    started = time.perf_counter()
    refresh_metrics()
    incremental = time.perf_counter() - started
    return {
        "full": full,
        "incremental": incremental,
        "baseline": baseline,
        "changed": changed,
        **counts,
        "rows": CustomerMetric.objects.count(),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _pandas_baseline() -> float:
    """RFM quintile scores and ABC classes the way a first pandas implementation would compute them."""
    import pandas as pd
    from django.utils import timezone

    from guanxi.commerce.models import Order

    started = time.perf_counter()
    frame = pd.DataFrame.from_records(
        Order.objects.filter(status__in=Order.SALE_STATUSES, customer__isnull=False).values_list(
            "customer_id", "placed_at", "total_amount", "refunded_amount"
        ),
        columns=["customer", "placed_at", "total", "refunded"],
    )
    frame["spend"] = (frame["total"] - frame["refunded"]).astype(float)
    now = timezone.now()
    grouped = frame.groupby("customer").agg(
        last=("placed_at", "max"), orders=("spend", "size"), spend=("spend", "sum")
    )
    grouped["recency"] = (now - grouped["last"]).dt.days
    grouped["r"] = pd.qcut(grouped["recency"].rank(method="first"), 5, labels=[5, 4, 3, 2, 1])
    grouped["f"] = pd.qcut(grouped["orders"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    grouped["m"] = pd.qcut(grouped["spend"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    ranked = grouped.sort_values("spend", ascending=False)
    share = ranked["spend"].cumsum().shift(fill_value=0) / ranked["spend"].sum()
    ranked["abc"] = pd.cut(share, [-1, 0.75, 0.95, 2], labels=["A", "B", "C"], right=False)
    return time.perf_counter() - started


def _add_orders(count: int) -> int:
    """One new completed order for `count` customers who already bought, as a day's trading would add."""
    from django.utils import timezone

    from guanxi.commerce.models import Order

    recent = list(
        Order.objects.filter(customer__isnull=False, status=Order.Status.COMPLETED)
        .order_by("customer_id")
        .distinct("customer_id")
        .values("store_id", "unit_id", "customer_id", "source")[:count]
        if _postgres()
        else Order.objects.filter(customer__isnull=False, status=Order.Status.COMPLETED)
        .values("store_id", "unit_id", "customer_id", "source")
        .order_by("customer_id")[: count * 20]
    )
    seen, picked = set(), []
    for row in recent:
        if row["customer_id"] not in seen:
            seen.add(row["customer_id"])
            picked.append(row)
        if len(picked) == count:
            break
    now = timezone.now()
    batch = f"bench-{now:%Y%m%d%H%M%S}"
    Order.objects.bulk_create(
        Order(
            store_id=row["store_id"],
            unit_id=row["unit_id"],
            customer_id=row["customer_id"],
            source=row["source"],
            external_id=f"{batch}-{i}",
            number=f"{batch}-{i}",
            status=Order.Status.COMPLETED,
            total_amount="88.00",
            item_count=1,
            placed_at=now,
            paid_at=now,
        )
        for i, row in enumerate(picked)
    )
    return len(picked)


def _postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


if __name__ == "__main__" and sys.argv[1:] == ["--measure"]:
    print(json.dumps(_child()))
elif __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
