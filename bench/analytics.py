"""Customer metrics refresh speed on the demo shop, on SQLite and PostgreSQL, beside a pandas baseline.

Each engine runs in a child process against a fresh database (a SQLite file in a temporary GUANXI_HOME;
PostgreSQL at GUANXI_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/guanxi_bench_analytics,
dropped and created anew) filled by `guanxi.demo.load_demo(customers)`. Measured, one line each:

- full refresh (`refresh_metrics(full=True)`: every scope, models refitted, backtest, rows written);
- incremental refresh after 1 % of the customers get one new order;
- the baseline: the straightforward pandas implementation of RFM and ABC (ORM `.values()` into a
  DataFrame, groupby, qcut, cumulative share), organisation-wide only and without writing anything,
  and how many times slower than the full refresh it is;
- peak resident memory of the child.

Run `python bench/analytics.py [customers]`; `run(customers)` returns the printed lines.
`python bench/analytics.py --existing DATABASE_URL` measures a database that already holds the demo
shop instead (loading a million customers takes a quarter of an hour); its 1 % of new orders stay.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CUSTOMERS = 20_000
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/guanxi_bench_analytics"
BUDGET_FULL_SECONDS_PER_MILLION = 60.0
BUDGET_INCREMENTAL_SECONDS = 5.0


def run(customers: int | None = None) -> list[str]:
    customers = customers or DEFAULT_CUSTOMERS
    lines = [
        f"Metrics refresh on the demo shop ({customers:,} customers); baseline = pandas groupby RFM + ABC "
        "(organisation-wide, no write)"
    ]
    targets = [
        ("sqlite", None),
        ("postgresql", os.environ.get("GUANXI_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)),
    ]
    for engine, url in targets:
        with tempfile.TemporaryDirectory(prefix="gx-bench-analytics-") as home:
            try:
                result = _measure(url or f"sqlite:///{home}/bench.sqlite3", home, customers)
            except RuntimeError as error:
                lines.append(f"{engine:<10} skipped: {error}")
                continue
        lines += _report(engine, result)
    return lines


def _report(engine: str, result: dict) -> list[str]:
    budget = BUDGET_FULL_SECONDS_PER_MILLION * max(result["customers"], 1) / 1_000_000
    incremental_ok = result["incremental"] <= BUDGET_INCREMENTAL_SECONDS
    return [
        f"{engine:<10} full refresh              {result['full']:8.2f} s  ({result['customers']:,} customers, "
        f"{result['orders']:,} orders, {result['lines']:,} lines, {result['rows']:,} metric rows)  "
        f"budget {budget:.1f} s: {'within' if result['full'] <= budget else 'OVER'}",
        f"{engine:<10} incremental, 1% changed   {result['incremental']:8.2f} s  ({result['changed']:,} customers)  "
        f"budget {BUDGET_INCREMENTAL_SECONDS:.0f} s: {'within' if incremental_ok else 'OVER'}",
        f"{engine:<10} pandas baseline           {result['baseline']:8.2f} s  (RFM + ABC only, no write)",
        f"{engine:<10} ratio baseline / full     {result['baseline'] / result['full']:8.2f} x",
        f"{engine:<10} peak memory               {result['peak_mb']:8,.0f} MB",
    ]


def _measure(database_url: str, home: str, customers: int | None) -> dict:
    """Measure in a child process: on a fresh database filled with `customers`, or (None) as it is."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GUANXI_HOME": home,
        "DJANGO_SETTINGS_MODULE": "guanxi.config.settings",
        "LOG_LEVEL": "WARNING",
    }
    child = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, __file__, "--measure", str(customers or 0)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or ["failed"])[-1]
        raise RuntimeError(last)
    return json.loads(child.stdout.strip().splitlines()[-1])


def _child(customers: int) -> dict:
    """Measure the current database; with `customers`, drop it, migrate and load the demo shop first."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from guanxi.commerce.models import Order, OrderLine
    from guanxi.customers.models import Customer

    if customers:
        _fresh_database(settings.DATABASES["default"])
    call_command("migrate", verbosity=0)

    from guanxi.analytics.models import CustomerMetric
    from guanxi.analytics.refresh import refresh_metrics
    from guanxi.demo import load_demo

    if customers:
        load_demo(customers)
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


def _fresh_database(config: dict) -> None:
    if not config["ENGINE"].endswith("postgresql"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{config['NAME']}{suffix}").unlink(missing_ok=True)
        return
    import psycopg
    from psycopg import sql

    admin = {
        "host": config.get("HOST") or "127.0.0.1",
        "port": config.get("PORT") or 5432,
        "user": config.get("USER") or "postgres",
        "password": config.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
        "connect_timeout": 5,
    }
    with psycopg.connect(**admin) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(config["NAME"]))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--measure":
    sys.path.insert(0, str(REPO))
    print(json.dumps(_child(int(sys.argv[2]))))
elif __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--existing":
    engine = "postgresql" if sys.argv[2].startswith("postgres") else "sqlite"
    with tempfile.TemporaryDirectory(prefix="gx-bench-analytics-") as home:
        for line in _report(engine, _measure(sys.argv[2], home, None)):
            print(line)
elif __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
