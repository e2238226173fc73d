"""Benchmark: the metrics refresh's heavy step on ClickHouse (chDB, in-process) beside the embedded path.

Generated data, not through the ORM: `customers` customers with ten sale orders each on average over
two business units and three years, written as Arrow straight into the engine's orders table (in a
temporary folder) and kept as the numpy arrays the embedded refresh reads. Both paths then do the same
work for the organisation-wide scope: the per-customer aggregates (embedded: sort and reduce in numpy;
engine: SQL over the partitioned table), then the shared numpy part (fit BG/NBD and Gamma-Gamma on
the summary, score, RFM/ABC/lifecycle). The two aggregates are checked equal before anything is
printed. The embedded figure leaves out reading the orders from the database (it starts from arrays in
memory), which favours it.

The same is measured at a tenth of the scale, for the time per 10× growth, and the bench states what a
cluster of N workers would be expected to do: the aggregation divides across workers, the numpy part
does not. That line is an estimate from single-node scaling, labelled as such, not a measurement.

Run `guanxi bench scaleout [--customers N]` (default 100,000 customers, 1M order lines).
"""

import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

DEFAULT_CUSTOMERS = 100_000
ORDERS_PER_CUSTOMER = 10
UNITS = (1, 2)
AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SPAN_SECONDS = 3 * 365 * 86_400
CLUSTER_WORKERS = (4, 16)


def _django() -> None:
    import django
    from django.apps import apps

    if not apps.ready:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.config.settings")
        os.environ.setdefault("GUANXI_HOME", tempfile.mkdtemp(prefix="guanxi-bench-scaleout-"))
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        django.setup()


def generate(customers: int, seed: int = 19):
    from guanxi.analytics.refresh.arrays import OrderArrays

    rng = np.random.default_rng(seed)
    lines = customers * ORDERS_PER_CUSTOMER
    # Skewed: a few customers buy often, many once or twice (as order logs do).
    customer = np.minimum((rng.pareto(1.2, lines) * customers / 8).astype(np.int64), customers - 1) + 1
    seconds = int(AS_OF.timestamp()) - rng.integers(-86_400 * 20, SPAN_SECONDS, lines)  # a few in the future
    cents = rng.integers(-500, 80_000, lines)  # refunds above the order total happen
    return OrderArrays(
        customer,
        rng.choice(np.array(UNITS), lines),
        seconds,
        cents,
        rng.integers(1, 6, lines),
        rng.integers(0, 5, lines),
    )


def load_engine(engine, orders) -> float:
    import pyarrow as pa

    from guanxi.analytics.engine import schema

    schema.drop_tables(engine)
    schema.create_tables(engine)
    started = time.perf_counter()
    block = 2_000_000
    for start in range(0, len(orders.customer), block):
        part = slice(start, start + block)
        n = len(orders.customer[part])
        engine.insert(
            schema.ORDERS,
            pa.table(
                {
                    "id": pa.array(np.arange(start, start + n, dtype=np.int64)),
                    "customer_id": pa.array(orders.customer[part]),
                    "unit_id": pa.array(orders.unit[part]),
                    "store_id": pa.array(orders.unit[part]),
                    "channel": pa.array(["tmall"] * n),
                    "status": pa.array(["completed"] * n),
                    "device": pa.array(["mobile"] * n),
                    "placed_us": pa.array(orders.seconds[part] * 1_000_000),
                    "placed_s": pa.array(orders.seconds[part]),
                    "net_cents": pa.array(orders.cents[part]),
                    "total_cents": pa.array(orders.cents[part]),
                    "items": pa.array(orders.items[part]),
                }
            ),
        )
    engine.command(f"OPTIMIZE TABLE {schema.ORDERS} FINAL")
    return time.perf_counter() - started


def measure(customers: int) -> dict:
    _django()
    from guanxi.analytics.conf import AnalyticsConfig
    from guanxi.analytics.engine.aggregates import customer_aggregates
    from guanxi.analytics.engine.connection import get_engine
    from guanxi.analytics.refresh.compute import aggregate_orders, score_scope

    orders = generate(customers)
    no_returns = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    universe = np.zeros(0, dtype=np.int64)
    config = AnalyticsConfig()
    with tempfile.TemporaryDirectory(prefix="guanxi-scaleout-") as folder:
        engine = get_engine(f"chdb:{folder}/clickhouse")
        load_seconds = load_engine(engine, orders)

        started = time.perf_counter()
        embedded = aggregate_orders(orders, no_returns, AS_OF)
        embedded_aggregate = time.perf_counter() - started
        started = time.perf_counter()
        score_scope(embedded, universe, AS_OF, config)
        score_seconds = time.perf_counter() - started

        customer_aggregates(engine, AS_OF)  # warm: the first query loads the engine's code paths
        started = time.perf_counter()
        on_engine = customer_aggregates(engine, AS_OF)
        engine_aggregate = time.perf_counter() - started
        started = time.perf_counter()
        score_scope(on_engine, universe, AS_OF, config)
        engine_score = time.perf_counter() - started
        engine.close()
    same = all(
        np.array_equal(getattr(embedded, name), getattr(on_engine, name))
        for name in vars(embedded)
        if name != "future_orders"
    ) and (embedded.future_orders == on_engine.future_orders)
    if not same:
        raise AssertionError("the engine's aggregates differ from the embedded ones")
    return {
        "lines": len(orders.customer),
        "buyers": len(embedded.customer_id),
        "load": load_seconds,
        "embedded_aggregate": embedded_aggregate,
        "engine_aggregate": engine_aggregate,
        "embedded_refresh": embedded_aggregate + score_seconds,
        "engine_refresh": engine_aggregate + engine_score,
        "score": score_seconds,
    }


def run(customers: int = DEFAULT_CUSTOMERS) -> list[str]:
    small = measure(max(customers // 10, 1_000))
    large = measure(customers)
    lines = [
        f"scale-out refresh, {large['lines']:,} order lines, {large['buyers']:,} buyers "
        f"(generated, loaded into chDB in {large['load']:.1f} s; aggregates checked equal)",
    ]
    for label, key in (
        ("per-customer aggregates", "aggregate"),
        ("refresh (aggregates + fit + score)", "refresh"),
    ):
        engine, embedded = large[f"engine_{key}"], large[f"embedded_{key}"]
        lines.append(
            f"  {label}: engine (ClickHouse/chDB) {engine:.2f} s, embedded (numpy) {embedded:.2f} s, "
            f"ratio engine/embedded {engine / embedded:.2f}"
        )
    for path in ("engine", "embedded"):
        growth = large[f"{path}_aggregate"] / max(small[f"{path}_aggregate"], 1e-9)
        lines.append(
            f"  {path} aggregates per 10x growth ({small['lines']:,} -> {large['lines']:,} lines): "
            f"{small[f'{path}_aggregate']:.2f} s -> {large[f'{path}_aggregate']:.2f} s, x{growth:.1f}"
        )
    for workers in CLUSTER_WORKERS:
        estimate = large["engine_aggregate"] / workers + large["score"]
        lines.append(
            f"  ESTIMATE (not measured) for a cluster of {workers} such workers: aggregates "
            f"{large['engine_aggregate'] / workers:.2f} s + numpy scoring on one node {large['score']:.2f} s "
            f"= {estimate:.2f} s, network and merge costs left out"
        )
    return lines


if __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CUSTOMERS):
        print(line)
