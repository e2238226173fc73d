"""Segment count-preview speed on the demo shop, on SQLite and PostgreSQL, beside a pandas baseline.

Each engine runs in a child process against a fresh database (a SQLite file in a temporary GUANXI_HOME;
PostgreSQL at GUANXI_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/guanxi_bench_segments,
dropped and created anew) filled by `guanxi.demo.load_demo(customers)`, then given metrics
(`refresh_metrics(full=True)`), a tag on a fifth of the customers and about one behavioural event per
customer (the demo has neither). Measured:

- count preview (`guanxi.segments.audience.count_preview` as the group admin), five runs of each of the
  ready-made segments and of a five-condition rule (profile, tag, metric, order aggregate in a window,
  event): median and p95 over all runs;
- the baseline: the same counts in pandas over DataFrames already loaded from the database (the load
  time is printed apart), for the five-condition rule and the Mother's Day rule, whose counts must agree;
- a full membership refresh of every segment (`refresh_all_segments`).

The issue's target scale is 1M customers / 10M lines; run `python bench/segments.py 1000000` for it.
Run `python bench/segments.py [customers]`; `run(customers)` returns the printed lines.
"""

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_support.py, also under `guanxi bench`
from _support import on_each_engine, percentile, run_child, start_django

DEFAULT_CUSTOMERS = 20_000
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/guanxi_bench_segments"
RUNS = 5
BUDGET_P95_SECONDS = 1.0
BUDGET_REFRESH_SECONDS = 30.0
TAG_SHARE = 5  # one customer in five carries the bench tag


def run(customers: int | None = None) -> list[str]:
    customers = customers or DEFAULT_CUSTOMERS
    lines = [
        f"Segment count preview on the demo shop ({customers:,} customers; target scale 1,000,000); "
        "baseline = pandas over preloaded DataFrames"
    ]

    def measure(database_url: str, home: str) -> dict:
        return run_child(__file__, database_url, home, "--measure", str(customers))

    for engine, result, error in on_each_engine("gx-bench-segments-", DEFAULT_POSTGRES_URL, measure):
        if result is None:
            lines.append(f"{engine:<10} skipped: {error}")
            continue
        lines.append(
            f"{engine:<10} count preview median {result['median'] * 1000:.0f} ms  p95 {result['p95'] * 1000:.0f} ms "
            f"({result['rules']} rules x {RUNS} runs; {result['lines']:,} order lines)  "
            f"budget p95 {BUDGET_P95_SECONDS:.0f} s: {'within' if result['p95'] <= BUDGET_P95_SECONDS else 'OVER'}"
        )
        for name, seconds in result["per_rule"].items():
            lines.append(
                f"{'':<10}   {name:<22} median {seconds * 1000:.0f} ms  ({result['counts'][name]:,} customers)"
            )
        lines.append(
            f"{'':<10} five-condition + Mother's Day: SQL median {result['sql_pair'] * 1000:.0f} ms  "
            f"pandas {result['pandas_pair'] * 1000:.0f} ms (load {result['pandas_load']:.1f} s)  "
            f"ratio {result['pandas_pair'] / result['sql_pair']:.2f}x  counts agree: {result['agree']}"
        )
        lines.append(
            f"{'':<10} full membership refresh of {result['segments']} segments {result['refresh']:.2f} s  "
            f"budget {BUDGET_REFRESH_SECONDS:.0f} s: {'within' if result['refresh'] <= BUDGET_REFRESH_SECONDS else 'OVER'}"
        )
    return lines


def five_condition_rule(tag_id: int) -> dict:
    return {
        "version": 1,
        "root": {
            "all": [
                {"type": "profile", "field": "gender", "op": "eq", "value": "female"},
                {"type": "tags", "match": "any", "tags": [tag_id]},
                {"type": "metric", "field": "churn_risk", "op": "lte", "value": 0.8},
                {
                    "type": "orders",
                    "of": "lines",
                    "measure": "count",
                    "op": "gte",
                    "value": 1,
                    "window": {"type": "last", "amount": 365, "unit": "days"},
                    "filters": {"categories": ["home_textiles"]},
                },
                {
                    "type": "event",
                    "kind": "browse",
                    "at_least": 1,
                    "window": {"type": "last", "amount": 90, "unit": "days"},
                },
            ]
        },
    }


def _child(customers: int) -> dict:
    start_django(fresh=True)
    from guanxi.accounts.models import User
    from guanxi.analytics.refresh import refresh_metrics
    from guanxi.demo import load_demo
    from guanxi.segments import rules
    from guanxi.segments.actions import refresh_all_segments
    from guanxi.segments.audience import count_preview
    from guanxi.segments.ready_made import install_ready_made_segments

    summary = load_demo(customers)
    refresh_metrics(full=True)
    now = _anchor()
    tag_id = _add_tags_and_events(now)
    _analyze()
    segments = install_ready_made_segments()
    admin = User.objects.get(username="admin")
    named = {segment.key: segment.rule for segment in segments}
    named["five-condition"] = five_condition_rule(tag_id)
    timings: dict[str, list[float]] = {}
    counts = {}
    for name, rule_json in named.items():
        rule = rules.parse_rule(rule_json)
        for _ in range(RUNS):
            started = time.perf_counter()
            counts[name] = count_preview(admin, rule, now=now)
            timings.setdefault(name, []).append(time.perf_counter() - started)
    every = sorted(t for runs in timings.values() for t in runs)
    frames, load = _load_frames()
    pandas_runs = []
    pandas_counts = {}
    for _ in range(RUNS):
        started = time.perf_counter()
        pandas_counts["five-condition"] = _pandas_five(frames, tag_id, now)
        pandas_counts["mothers-day"] = _pandas_mothers_day(frames, now)
        pandas_runs.append(time.perf_counter() - started)
    sql_pair = statistics.median(
        a + b for a, b in zip(timings["five-condition"], timings["mothers-day"], strict=True)
    )
    started = time.perf_counter()
    refreshed = refresh_all_segments(now=now)
    refresh = time.perf_counter() - started
    return {
        "median": statistics.median(every),
        "p95": percentile(every, 95),
        "rules": len(named),
        "per_rule": {name: statistics.median(runs) for name, runs in timings.items()},
        "counts": counts,
        "lines": summary.order_lines,
        "sql_pair": sql_pair,
        "pandas_pair": statistics.median(pandas_runs),
        "pandas_load": load,
        "agree": all(pandas_counts[name] == counts[name] for name in pandas_counts),
        "refresh": refresh,
        "segments": len(refreshed),
    }


def _analyze() -> None:
    """Planner statistics after the bulk load, as autovacuum (or the demo loader) would gather them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _anchor():
    from guanxi.demo.loader import DEFAULT_ANCHOR

    return DEFAULT_ANCHOR


def _add_tags_and_events(now) -> int:
    """A tag on every fifth customer and, for every customer with an order, one browse event in the last
    120 days (the demo generator makes neither)."""
    import random
    from datetime import timedelta

    from django.db import transaction

    from guanxi.commerce.models import Event, Order
    from guanxi.customers.models import Customer, CustomerTag, Tag

    rng = random.Random(5)  # noqa: S311 (bench data)
    tag = Tag.objects.create(name="喜欢棉质")
    ids = list(Customer.objects.values_list("pk", flat=True))
    with transaction.atomic():
        CustomerTag.objects.bulk_create(
            (CustomerTag(customer_id=pk, tag=tag) for pk in ids if pk % TAG_SHARE == 0), batch_size=5000
        )
        stores = dict(
            Order.objects.filter(customer__isnull=False)
            .values_list("customer_id", "store_id")
            .order_by("customer_id", "pk")
        )
        from guanxi.commerce.models import Store

        info = {s.pk: (s.unit_id, s.source) for s in Store.objects.all()}
        Event.objects.bulk_create(
            (
                Event(
                    store_id=store_id,
                    unit_id=info[store_id][0],
                    customer_id=customer_id,
                    source=info[store_id][1],
                    external_id=f"bench-{customer_id}",
                    kind=rng.choice(["browse", "browse", "add_to_cart"]),
                    properties={"category": "home_textiles"},
                    occurred_at=now - timedelta(days=rng.randint(0, 120)),
                )
                for customer_id, store_id in stores.items()
            ),
            batch_size=5000,
        )
    return tag.pk


def _load_frames():
    import pandas as pd

    from guanxi.analytics.models import CustomerMetric
    from guanxi.commerce.models import Event, OrderLine
    from guanxi.customers.models import Customer, CustomerTag

    started = time.perf_counter()
    frames = {
        "customers": pd.DataFrame.from_records(
            Customer.objects.filter(status="active").values_list("pk", "gender", "birthday"),
            columns=["id", "gender", "birthday"],
        ),
        "tags": pd.DataFrame.from_records(
            CustomerTag.objects.values_list("customer_id", "tag_id"), columns=["id", "tag"]
        ),
        "metrics": pd.DataFrame.from_records(
            CustomerMetric.objects.filter(unit__isnull=True).values_list("customer_id", "churn_risk"),
            columns=["id", "churn_risk"],
        ),
        "lines": pd.DataFrame.from_records(
            OrderLine.objects.filter(order__customer__isnull=False).values_list(
                "order__customer_id", "category", "order__placed_at", "order__status"
            ),
            columns=["id", "category", "placed_at", "status"],
        ),
        "events": pd.DataFrame.from_records(
            Event.objects.filter(customer__isnull=False).values_list("customer_id", "kind", "occurred_at"),
            columns=["id", "kind", "occurred_at"],
        ),
    }
    for name, column in (("lines", "placed_at"), ("events", "occurred_at")):
        frames[name][column] = pd.to_datetime(frames[name][column], utc=True)
    return frames, time.perf_counter() - started


def _pandas_five(frames, tag_id: int, now) -> int:
    import pandas as pd

    customers = frames["customers"]
    women = set(customers.loc[customers["gender"] == "female", "id"])
    tagged = set(frames["tags"].loc[frames["tags"]["tag"] == tag_id, "id"])
    metrics = frames["metrics"]
    calm = set(metrics.loc[metrics["churn_risk"] <= 0.8, "id"])
    lines = frames["lines"]
    since = pd.Timestamp(now) - pd.Timedelta(days=365)
    bought = set(
        lines.loc[
            (lines["category"] == "home_textiles")
            & (lines["placed_at"] >= since)
            & (lines["placed_at"] <= pd.Timestamp(now)),
            "id",
        ]
    )
    events = frames["events"]
    recent = pd.Timestamp(now) - pd.Timedelta(days=90)
    browsed = set(
        events.loc[
            (events["kind"] == "browse")
            & (events["occurred_at"] >= recent)
            & (events["occurred_at"] <= pd.Timestamp(now)),
            "id",
        ]
    )
    return len(women & tagged & calm & bought & browsed)


def _pandas_mothers_day(frames, now) -> int:
    import pandas as pd
    from django.conf import settings

    from guanxi.segments.compiler import years_before

    today = pd.Timestamp(now).tz_convert(settings.TIME_ZONE).date()
    customers = frames["customers"]
    oldest, youngest = years_before(today, 50), years_before(today, 25)
    birthdays = customers["birthday"]
    aged = customers.loc[
        (customers["gender"] == "female")
        & birthdays.notna()
        & (birthdays > oldest)
        & (birthdays <= youngest),
        "id",
    ]
    lines = frames["lines"]
    since = pd.Timestamp(now) - pd.Timedelta(days=365)
    sale = ["paid", "shipped", "delivered", "completed"]
    bought = lines.loc[
        (lines["category"] == "home_textiles")
        & lines["status"].isin(sale)
        & (lines["placed_at"] >= since)
        & (lines["placed_at"] <= pd.Timestamp(now)),
        "id",
    ]
    return len(set(aged) & set(bought))


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--measure":
    print(json.dumps(_child(int(sys.argv[2]))))
elif __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
