"""Segment count-preview speed on the demo shop, on SQLite and PostgreSQL, beside a pandas baseline.

Each engine runs in a child process on a copy of the bench dataset (bench/_support.py: the demo shop
with metrics, a tag on a fifth of the customers and a behavioural event for every buyer; built once per
scale and kept). Measured:

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
from _support import DATASET_TAG, HOME_TEXTILES, on_each_dataset, percentile, run_child, start_django

DEFAULT_CUSTOMERS = 20_000
RUNS = 5
BUDGET_P95_SECONDS = 1.0
BUDGET_REFRESH_SECONDS = 30.0


def run(customers: int | None = None) -> list[str]:
    customers = customers or DEFAULT_CUSTOMERS
    lines = [
        f"Segment count preview on the demo shop ({customers:,} customers; target scale 1,000,000); "
        "baseline = pandas over preloaded DataFrames"
    ]

    def measure(database_url: str, home: str) -> dict:
        return run_child(__file__, database_url, home, "--measure")

    for engine, result, error in on_each_dataset("gx-bench-segments-", customers, measure):
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
                    "filters": {"categories": [HOME_TEXTILES]},
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


def _child() -> dict:
    start_django(fresh=False)
    from django.conf import settings
    from django.core.management import call_command

    from guanxi.accounts.models import User
    from guanxi.commerce.models import OrderLine
    from guanxi.customers.models import Tag
    from guanxi.demo.loader import REFERENCE_ANCHOR
    from guanxi.segments import rules
    from guanxi.segments.actions import refresh_all_segments
    from guanxi.segments.audience import count_preview
    from guanxi.segments.ready_made import install_ready_made_segments

    call_command("migrate", verbosity=0)
    settings.SEGMENT_COUNT_TIMEOUT_MS = 600_000  # measure slow counts rather than cancel them
    now = REFERENCE_ANCHOR
    tag_id = Tag.objects.get(name=DATASET_TAG).pk
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
        "lines": OrderLine.objects.count(),
        "sql_pair": sql_pair,
        "pandas_pair": statistics.median(pandas_runs),
        "pandas_load": load,
        "agree": all(pandas_counts[name] == counts[name] for name in pandas_counts),
        "refresh": refresh,
        "segments": len(refreshed),
    }


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
            (lines["category"] == HOME_TEXTILES)
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
        (lines["category"] == HOME_TEXTILES)
        & lines["status"].isin(sale)
        & (lines["placed_at"] >= since)
        & (lines["placed_at"] <= pd.Timestamp(now)),
        "id",
    ]
    return len(set(aged) & set(bought))


if __name__ == "__main__" and sys.argv[1:] == ["--measure"]:
    print(json.dumps(_child()))
elif __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
