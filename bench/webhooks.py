"""Webhook ingestion under load and faults (reliability.md IN-1, IN-2, IN-4, IN-7), on loopback: a fake
Shopify that signs, re-sends, shuffles and retries, against `guanxi serve` (8 threads) and one
`guanxi worker` draining the inbox, checked against the sender's ledger once the inbox is empty.

- IN-1: 10,000 `orders/create` events, 30 % re-sent 1–3× on 8 concurrent connections → exactly 10,000
  deliveries and orders, the audit's "orders applied" entries counting 10,000 created and 0 updated.
- IN-2: 1,000 orders × 3 versions, shuffled → every order at its newest `updated_at`.
- IN-4: new events at 100 req/s (PostgreSQL) or 25 req/s (SQLite) for `--minutes` (default 10): the rate
  reached, p95 acknowledgement time, 5xx, "database is locked" answers, accepted events not recorded.
  Baseline: p95 of the health endpoint (one `SELECT 1` through the same server) just before.
- IN-7 (PostgreSQL): the same load with PostgreSQL restarted half-way (GUANXI_BENCH_PG_RESTART, default
  `pg_ctlcluster 15 main restart`; empty skips it): 0 accepted events lost, 503 and never 500 while it
  is down, seconds until /webhooks/health answers 200 again.

GUANXI_BENCH_WEBHOOKS=in1,in2,in4,in7 picks scenarios; GUANXI_BENCH_ENGINES=sqlite|postgresql one engine.
`guanxi bench webhooks [--customers N (IN-1 events)] [--minutes M]`.
"""

import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/guanxi_bench_webhooks"
DEFAULT_EVENTS = 10_000
DEFAULT_MINUTES = 10.0
RATES = {"postgresql": 100.0, "sqlite": 25.0}


def run(customers: int | None = None, minutes: float | None = None) -> list[str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.config.settings")
    import django

    django.setup()
    import dj_database_url
    from django.conf import settings

    from guanxi.commerce import drills

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _support import fresh_database

    events = customers or DEFAULT_EVENTS
    seconds = (minutes if minutes is not None else DEFAULT_MINUTES) * 60
    scenarios = os.environ.get("GUANXI_BENCH_WEBHOOKS", "in1,in2,in4,in7").split(",")
    restart = shlex.split(os.environ.get("GUANXI_BENCH_PG_RESTART", "pg_ctlcluster 15 main restart"))
    lines = []
    for engine in os.environ.get("GUANXI_BENCH_ENGINES", "sqlite,postgresql").split(","):
        for scenario in scenarios:
            if scenario == "in7" and (engine != "postgresql" or not restart):
                continue
            with tempfile.TemporaryDirectory(prefix="gx-webhooks-") as home:
                if engine == "postgresql":
                    fresh_database(dj_database_url.parse(POSTGRES_URL))
                    url = POSTGRES_URL
                else:
                    url = f"sqlite:///{home}/webhooks.sqlite3"
                lines.append(
                    _measure(
                        drills,
                        scenario,
                        engine,
                        url,
                        Path(home),
                        settings.SECRET_KEY,
                        events,
                        seconds,
                        restart,
                    )
                )
                print(lines[-1], file=sys.stderr, flush=True)
    return lines


def _measure(drills, scenario, engine, url, home, secret_key, events, seconds, restart) -> str:
    if scenario == "in1":
        sends = drills.duplicate_sends(events, resend_share=0.3, seed=18)
        out = drills.run_sends(url, home, secret_key, sends, connections=8, timeout=3600)
        return (
            f"{engine:<10} IN-1 {events:,} events + {len(sends) - events:,} re-sends on 8 connections: "
            f"{out.rate:5.0f} req/s, deliveries {out.deliveries:,}, orders {out.orders:,}, audited as created "
            f"{out.orders_created:,} / updated {out.orders_updated} (duplicates {out.orders_created - out.orders + out.orders_updated}), "
            f"lost {len(out.accepted_not_recorded)}, "
            f"5xx {_errors(out)}, drained {out.drain_seconds:.0f} s after the last send"
        )
    if scenario == "in2":
        sends, oracle = drills.shuffled_updates(1000, versions=3, seed=7)
        out = drills.run_sends(url, home, secret_key, sends, connections=8, timeout=3600)
        right = sum(1 for key, state in oracle.items() if out.states.get(key) == state)
        return (
            f"{engine:<10} IN-2 1,000 orders x 3 versions shuffled: {right:,}/{len(oracle):,} at the newest "
            f"updated_at, deliveries {out.delivery_statuses}, lost {len(out.accepted_not_recorded)}"
        )
    rate = RATES[engine]
    baseline = _health_p95(drills, url, home, secret_key)
    out = drills.run_load(
        url,
        home,
        secret_key,
        rate=rate,
        seconds=seconds,
        restart=restart if scenario == "in7" else None,
        restart_at=seconds / 2,
        timeout=3600,
    )
    p95 = out.ledger.p95_ms()
    figure = (
        f"{engine:<10} {'IN-7' if scenario == 'in7' else 'IN-4'} {seconds / 60:.1f} min at {rate:.0f} req/s asked: "
        f"{out.rate:5.1f} req/s, p95 {p95:.0f} ms (baseline health p95 {baseline:.0f} ms, x{p95 / baseline if baseline else 0:.1f}), "
        f"accepted {len(out.ledger.accepted):,}/{out.sent:,}, lost {len(out.accepted_not_recorded)}, "
        f"5xx {_errors(out)}, 'database is locked' {out.ledger.locked_answers}, given up {len(out.ledger.given_up)}"
    )
    if scenario == "in7":
        figure += (
            f"; restart took {out.restart_seconds or 0:.1f} s, answers meanwhile {dict(out.ledger.down_statuses)}, "
            f"healthy {out.healthy_after if out.healthy_after is not None else 'never':} s after"
        )
    return figure


def _errors(out) -> dict:
    return {status: count for status, count in out.ledger.statuses.items() if status >= 500}


def _health_p95(drills, url, home, secret_key) -> float:
    """p95 of 200 health requests through a fresh server on the same database, in milliseconds."""
    stack = drills.start_stack(url, home, secret_key)
    try:
        timings = []
        for _request in range(200):
            started = time.monotonic()
            drills.health(stack.port)
            timings.append(time.monotonic() - started)
    finally:
        stack.stop()
    timings.sort()
    return timings[int(len(timings) * 0.95) - 1] * 1000


if __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
