"""Loyalty: the initial points backfill, tier recalculation, code generation and redemption latency,
each beside a naive baseline measured in the same run.

On each engine, in a child process on a copy of the bench dataset (the demo shop at N customers, built
once per scale and kept, see `_support`), with a programme per unit created for the run (default
ladder, 1 point per yuan, history from 2000):

- Backfill: the naive per-order loop (`earn_for_order` in its own transaction under the member's
  lock, as following the feed does for one order) over the first orders of one unit, then
  `earning.backfill` over everything else: set-based on PostgreSQL (INSERT … SELECT per rule version
  and range of orders, ADR 0042; one worker connection per CPU, as `guanxi loyalty backfill` runs
  it), batched reads and bulk inserts on SQLite. Figure: order lines per
  second. Budget: ≥ 50,000 lines/s on PostgreSQL at 1M customers (10M lines): `--customers 1000000`.
- Tier recalculation: `tiers.recalculate` over every member (figures staged once, one INSERT … SELECT
  and one UPDATE per tier); baseline the per-member `evaluate` on a sample, scaled. Figure: seconds at
  1M members, scaled linearly from the members measured (budget < 60 s).
- Codes: `generate_codes` of 200,000 codes (random codes inserted in sorted batches with ON
  CONFLICT DO NOTHING, clashes drawn again); baseline one INSERT per code after an existence check, on a sample, scaled.
  Figure: seconds for 1M codes (budget < 30 s).
- Redemption: 8 threads, each redeeming 1 point 40 times from its own members; baseline the same
  with 1 thread. Figure: p95 latency (budget < 50 ms).

`python bench/loyalty.py [customers]` or `guanxi bench loyalty --customers N`.
"""

import json
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_support.py, also under `guanxi bench`
from _support import on_each_dataset, run_child, start_django

DEFAULT_CUSTOMERS = 10_000
NAIVE_ORDERS = 1_500
NAIVE_MEMBERS = 400
CODES = 200_000
NAIVE_CODES = 3_000
CLIENTS = 8
WORKERS = os.cpu_count() or 1  # as `guanxi loyalty backfill` runs it
REDEMPTIONS = 40


def run(customers: int | None = None) -> list[str]:
    customers = customers or DEFAULT_CUSTOMERS
    lines = [f"loyalty: demo shop at {customers:,} customers"]
    for engine, result, error in on_each_dataset(
        "gx-bench-loyalty-", customers, lambda url, home: run_child(__file__, url, home, "--measure")
    ):
        if result is None:
            lines.append(f"{engine:<10} skipped: {error}")
            continue
        r = result
        lines.append(
            f"{engine:<10} backfill: {r['lines_rate']:9.0f} lines/s ({r['lines']:,} lines, {r['movements']:,} movements"
            + (f", {WORKERS} workers)" if engine == "postgresql" else ")")
            + f"   naive per-order loop: {r['naive_lines_rate']:7.0f} lines/s   ratio {r['lines_rate'] / r['naive_lines_rate']:5.1f}x"
            + ("   budget ≥ 50,000" if engine == "postgresql" else "")
        )
        bulk = r["lines"] / max(r["backfill_seconds"] - r["slow_seconds"], 1e-9)
        lines.append(
            f"{engine:<10}   of which the set-based/bulk earning {bulk:9.0f} lines/s; {r['slow_path']:,} customers "
            f"with returns or debts settled one by one in {r['slow_seconds']:.1f} s"
        )
        lines.append(
            f"{engine:<10} tier recalculation: {r['members']:,} members in {r['recalc_seconds']:.2f} s, at 1M {r['recalc_1m']:6.1f} s"
            f"   naive per member at 1M: {r['naive_recalc_1m']:8.1f} s   ratio {r['naive_recalc_1m'] / r['recalc_1m']:5.1f}x   budget < 60 s"
        )
        lines.append(
            f"{engine:<10} codes: {CODES:,} in {r['codes_seconds']:.2f} s, at 1M {r['codes_1m']:5.1f} s"
            f"   naive one by one at 1M: {r['naive_codes_1m']:7.1f} s   ratio {r['naive_codes_1m'] / r['codes_1m']:5.1f}x   budget < 30 s"
        )
        lines.append(
            f"{engine:<10} redemption p95 with {CLIENTS} clients: {r['p95_ms']:6.1f} ms"
            f"   1 client: {r['p95_single_ms']:6.1f} ms   ratio {r['p95_ms'] / r['p95_single_ms']:5.2f}x   budget < 50 ms"
        )
    return lines


def _child() -> dict:
    start_django(fresh=False)
    from django.db import connections, transaction
    from django.utils import timezone

    from guanxi.accounts.models import BusinessUnit
    from guanxi.commerce.models import Order, OrderLine
    from guanxi.loyalty import actions, coupons, earning, tiers
    from guanxi.loyalty.models import CouponCode, Membership, Programme

    units = list(BusinessUnit.objects.order_by("code"))
    history_start = datetime(2000, 1, 1, tzinfo=UTC)
    programmes = [
        actions.create_programme(unit=unit, name=f"{unit.code} club", now=history_start) for unit in units
    ]
    now = timezone.now()
    by_unit = {p.unit_id: p for p in programmes}

    # Naive: each order on its own, as one pass of the feed would, in its own transaction.
    sample = list(
        Order.objects.filter(unit=units[0], customer__isnull=False, paid_at__isnull=False)
        .filter(status__in=tiers.SALE_STATUSES)
        .order_by("pk")[:NAIVE_ORDERS]
    )
    naive_lines = OrderLine.objects.filter(order__in=sample).count()
    started = time.perf_counter()
    for order in sample:
        with transaction.atomic():
            earning.earn_for_order(by_unit[order.unit_id], order, now)
    naive_seconds = time.perf_counter() - started

    started = time.perf_counter()
    lines = movements = slow_path = 0
    slow_seconds = 0.0
    for programme in programmes:
        result = earning.backfill(programme, now, workers=WORKERS)
        lines += result.lines
        movements += result.movements
        slow_path += result.slow_path
        slow_seconds += result.slow_seconds
    backfill_seconds = time.perf_counter() - started

    members = Membership.objects.count()
    started = time.perf_counter()
    for programme in programmes:
        tiers.recalculate(programme, now)
    recalc_seconds = time.perf_counter() - started
    sample_members = list(
        Membership.objects.select_related("programme", "tier").order_by("pk")[:NAIVE_MEMBERS]
    )
    started = time.perf_counter()
    for membership in sample_members:
        with transaction.atomic():
            tiers.evaluate(membership, now)
    naive_recalc_seconds = time.perf_counter() - started

    template = actions.save_coupon_template(
        programmes[0], name="bench", kind="spend_save", min_spend=100, amount_off=10, valid_days=7
    )
    started = time.perf_counter()
    with transaction.atomic():
        coupons.generate_codes(template, CODES)
    codes_seconds = time.perf_counter() - started
    started = time.perf_counter()
    written = 0
    while written < NAIVE_CODES:
        code = coupons.new_code()
        if not CouponCode.objects.filter(code=code).exists():
            CouponCode.objects.create(template=template, code=code)
            written += 1
    naive_codes_seconds = time.perf_counter() - started

    # Redemption latency: every member used gets points to spend first.
    spenders = list(Membership.objects.select_related("programme", "customer").order_by("pk")[: CLIENTS * 4])
    for membership in spenders:
        actions.adjust_points(membership.programme, membership.customer, 10_000, reason="bench")
    connections.close_all()

    def latencies(clients: int) -> list[float]:
        times: list[float] = []
        lock = threading.Lock()

        def client(index: int) -> None:
            mine = spenders[index::clients]
            for i in range(REDEMPTIONS):
                membership = mine[i % len(mine)]
                t0 = time.perf_counter()
                actions.redeem_points(membership.programme, membership.customer, 1)
                with lock:
                    times.append(time.perf_counter() - t0)
            connections.close_all()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return times

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1] * 1000

    single = p95(latencies(1))
    many = p95(latencies(CLIENTS))
    assert not actions.check_ledger()
    return {
        "lines": lines,
        "movements": movements,
        "lines_rate": lines / backfill_seconds,
        "backfill_seconds": backfill_seconds,
        "slow_path": slow_path,
        "slow_seconds": slow_seconds,
        "naive_lines_rate": naive_lines / naive_seconds,
        "members": members,
        "recalc_seconds": recalc_seconds,
        "recalc_1m": recalc_seconds * 1_000_000 / max(members, 1),
        "naive_recalc_1m": naive_recalc_seconds * 1_000_000 / len(sample_members),
        "codes_seconds": codes_seconds,
        "codes_1m": codes_seconds * 1_000_000 / CODES,
        "naive_codes_1m": naive_codes_seconds * 1_000_000 / NAIVE_CODES,
        "p95_ms": many,
        "p95_single_ms": single,
        "programmes": Programme.objects.count(),
    }


if __name__ == "__main__" and sys.argv[1:] == ["--measure"]:
    print(json.dumps(_child()))
elif __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
