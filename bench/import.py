"""Online Retail import speed (541,909 lines) on SQLite and PostgreSQL, beside a naive ORM baseline.

Each measurement runs in a child process against a fresh database: a SQLite file in a temporary
GUANXI_HOME, and the PostgreSQL database named by GUANXI_BENCH_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/guanxi_bench, dropped and created anew). The engine runs RUNS
times, each on a fresh database, and the median is reported with the range. The baseline imports
one row at a time with ordinary ORM calls (get_or_create per customer, order and line, as a first
attempt would); it runs on the first BASELINE_LINES lines and its rate is reported as lines/s, so
the comparison with the full-file engine run is rate against rate.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_support.py, also under `guanxi bench`
from _support import REPO, on_each_engine, run_child, start_django

BASELINE_LINES = 20_000
# Engine runs per database, each on a fresh one: a single run varied by ±10 % on the reference machine.
RUNS = 3
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/guanxi_bench"
BUDGET = {"sqlite": 20_000, "postgresql": 50_000}


def data_file() -> Path:
    shared = os.environ.get("GUANXI_SHARED_DATA")
    base = Path(shared) if shared else REPO.parent / "shared" / "data"
    return base / "online_retail.csv.gz"


def run() -> list[str]:
    path = data_file()
    if not path.is_file():
        return [f"import: {path} not found (set GUANXI_SHARED_DATA)"]
    lines = [
        f"Online Retail import ({path.name}); baseline = naive one-row-at-a-time ORM "
        f"on the first {BASELINE_LINES:,} lines, rate extrapolated to lines/s"
    ]

    def measure(database_url: str, home: str) -> tuple[list[dict], dict]:
        runs = [
            run_child(__file__, database_url, home, "--measure", "engine", str(path)) for _ in range(RUNS)
        ]
        naive = run_child(__file__, database_url, home, "--measure", "naive", str(path))
        return runs, naive

    for engine, result, error in on_each_engine("gx-bench-import-", DEFAULT_POSTGRES_URL, measure):
        if result is None:
            lines.append(f"{engine:<10} skipped: {error}")
            continue
        runs, naive = result
        runs.sort(key=lambda run: run["seconds"])
        fast = runs[len(runs) // 2]
        fast_rate = fast["lines"] / fast["seconds"]
        spread = (
            f"{runs[-1]['lines'] / runs[-1]['seconds']:,.0f}–{runs[0]['lines'] / runs[0]['seconds']:,.0f}"
        )
        naive_rate = naive["lines"] / naive["seconds"]
        verdict = "within" if fast_rate >= BUDGET[engine] else "OVER"
        lines.append(
            f"{engine:<10} engine {fast_rate:>9,.0f} lines/s (median of {RUNS} runs on fresh databases, "
            f"range {spread}; {fast['lines']:,} lines in {fast['seconds']:.1f} s; "
            f"{fast['orders']:,} orders, {fast['returns']:,} returns, {fast['customers']:,} customers)  "
            f"naive {naive_rate:>7,.0f} lines/s ({naive['lines']:,} lines in {naive['seconds']:.1f} s)  "
            f"ratio {fast_rate / naive_rate:,.1f}x  budget {BUDGET[engine]:,} lines/s: {verdict}"
        )
        lines.append(
            f"{'':<10} re-import {fast['reimport_lines'] / fast['reimport_seconds']:,.0f} lines/s, "
            f"rows added {fast['reimport_added']}"
        )
    return lines


def _child(mode: str, path: Path) -> dict:
    start_django(fresh=True)
    from guanxi.accounts import actions as account_actions

    account_actions.ensure_organisation("Bench")
    unit = account_actions.create_business_unit(code="uk", name="UK")
    if mode == "naive":
        return _naive(path, unit)
    from guanxi.commerce.importers import run_import
    from guanxi.commerce.models import Order, Return
    from guanxi.customers.models import Customer

    started = time.perf_counter()
    run = run_import("online_retail", path, unit=unit)
    seconds = time.perf_counter() - started
    before = _rows()
    started = time.perf_counter()
    again = run_import("online_retail", path, unit=unit)
    reimport_seconds = time.perf_counter() - started
    after = _rows()
    return {
        "lines": run.counts["rows"],
        "seconds": seconds,
        "orders": Order.objects.count(),
        "returns": Return.objects.count(),
        "customers": Customer.objects.count(),
        "reimport_lines": again.counts["rows"],
        "reimport_seconds": reimport_seconds,
        "reimport_added": after - before,
    }


def _rows() -> int:
    from guanxi.commerce.models import Order, OrderLine, Return
    from guanxi.customers.models import Customer

    return sum(model.objects.count() for model in (OrderLine, Order, Return, Customer))


def _naive(path: Path, unit) -> dict:
    """The obvious first implementation: one ORM call chain per row, one transaction per row."""
    import csv
    import gzip
    import itertools
    from datetime import datetime
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from django.db import transaction

    from guanxi.commerce.models import Order, OrderLine, Return, Store
    from guanxi.customers.models import Customer, CustomerUnit, Identity

    london = ZoneInfo("Europe/London")
    store = Store.objects.create(
        unit=unit, name="Online Retail (UK)", channel="own_site", source="online_retail", currency="GBP"
    )
    started = time.perf_counter()
    count = 0
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in itertools.islice(csv.DictReader(handle), BASELINE_LINES):
            with transaction.atomic():
                placed_at = datetime.fromisoformat(row["InvoiceDate"]).replace(tzinfo=london)
                customer = None
                if row["CustomerID"]:
                    identity = Identity.objects.filter(
                        kind="external_id", namespace="online_retail", value=row["CustomerID"]
                    ).first()
                    if identity is None:
                        customer = Customer.objects.create(first_seen_at=placed_at, source_channel="own_site")
                        Identity.objects.create(
                            customer=customer,
                            kind="external_id",
                            namespace="online_retail",
                            value=row["CustomerID"],
                            source="online_retail",
                        )
                    else:
                        customer = identity.customer
                    CustomerUnit.objects.get_or_create(customer=customer, unit=unit)
                quantity, price = int(row["Quantity"]), Decimal(row["UnitPrice"])
                if row["InvoiceNo"].startswith("C"):
                    item, _ = Return.objects.get_or_create(
                        source="online_retail",
                        external_id=row["InvoiceNo"],
                        defaults={
                            "store": store,
                            "unit": unit,
                            "customer": customer,
                            "number": row["InvoiceNo"],
                            "currency": "GBP",
                            "returned_at": placed_at,
                        },
                    )
                    item.amount += -quantity * price
                    item.save()
                else:
                    order, _ = Order.objects.get_or_create(
                        source="online_retail",
                        external_id=row["InvoiceNo"],
                        defaults={
                            "store": store,
                            "unit": unit,
                            "customer": customer,
                            "number": row["InvoiceNo"],
                            "currency": "GBP",
                            "placed_at": placed_at,
                            "status": "completed",
                        },
                    )
                    if quantity > 0 and price > 0:
                        OrderLine.objects.create(
                            order=order,
                            sku=row["StockCode"],
                            name=row["Description"],
                            quantity=quantity,
                            unit_price=price,
                            amount=quantity * price,
                        )
                        order.total_amount += quantity * price
                        order.item_count += quantity
                        order.save()
            count += 1
    return {"lines": count, "seconds": time.perf_counter() - started}


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--measure":
    print(json.dumps(_child(sys.argv[2], Path(sys.argv[3]))))
