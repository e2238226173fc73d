"""The Reports pages as every demo role: the dashboard's p95 and each report's, per role, beside two
baselines: the same dashboard computed by direct aggregation of the orders and lines (the sales rollup
not built), and the Analytics page's p95 for the same role (the older engine, aggregating orders and
metric rows directly).

Runs on a copy of the bench dataset (bench/_support.py: the demo shop with metrics; default scale is the
demo's 6,000 customers), on SQLite and on PostgreSQL. In the child each demo user signs in and the Reports
home and every report it lists are fetched ROUNDS times after one warm-up request, through the Django
test client (middleware, scoping, queries, templates). The direct baseline (the dashboard, and the
margin report by month) is measured first, before the daily sales rollup (guanxi.analytics.rollup,
ADR 0044) is built; the rollup is then rebuilt from
scratch (its time is printed) and every page measured again. The ratio is reports / analytics: below 1
means the Reports page renders faster than the Analytics page does for that role.

Budget (issue 17): every dashboard p95 < 1 s, for every role. The dashboards' sales figures and the
margin report's store, category and month views read the rollup; customers who bought (a distinct
count) still reads the month's orders, and the reports grouped or filtered by customer properties (and
Sales by product, whose orders and customers are distinct counts) read the period's lines.
Run `python bench/reports.py [customers]` (or `guanxi bench reports --customers 100000`; at 1M:
`GUANXI_BENCH_REPORTS=dashboards GUANXI_BENCH_ROUNDS=3 guanxi bench reports --customers 1000000`).
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_support.py, also under `guanxi bench`
from _support import on_each_dataset, percentile, run_child, start_django

DEFAULT_CUSTOMERS = 6_000
# At a million customers a full run (every report, every role, the Analytics page) takes hours: there
# GUANXI_BENCH_REPORTS=dashboards measures the dashboards (and their direct baseline) only, and
# GUANXI_BENCH_ROUNDS sets the requests per page.
ROUNDS = int(os.environ.get("GUANXI_BENCH_ROUNDS", "5"))
DASHBOARDS_ONLY = os.environ.get("GUANXI_BENCH_REPORTS") == "dashboards"
BUDGET_SECONDS = 1.0
# The pages that read the sales rollup, each also timed before it is built (the direct baseline).
ROLLUP_PAGES = {"dashboard": "/reports/", "margin by month": "/reports/margin/?group=month"}


def run(customers: int | None = None) -> list[str]:
    customers = customers or DEFAULT_CUSTOMERS
    lines: list[str] = []
    for engine, result, error in on_each_dataset("gx-bench-reports-", customers, _measure):
        lines += [f"{engine:<10} skipped: {error}"] if result is None else _report(result)
    return lines


def _report(result: dict) -> list[str]:
    lines = [
        f"Reports on {result['customers']:,} customers ({result['vendor']}); {ROUNDS} requests per page after "
        f"one warm-up; direct = the same dashboard aggregating orders and lines (no rollup); analytics = the "
        f"Analytics page's p95 for the same role; budget dashboard p95 < 1 s",
        f"sales rollup rebuilt from scratch in {result['rollup_seconds']:.1f} s "
        f"({result['rollup_rows']:,} day rows of lines); the dashboards' customer counts in "
        f"{result['counts_seconds']:.1f} s",
    ]
    slowest = 0.0
    for role, measured in result["roles"].items():
        analytics = measured.get("analytics")
        base = percentile(analytics, 95) if analytics else None
        for page, seconds in measured["pages"].items():
            if not seconds:
                lines.append(f"{role:<12} {page:<24} refused")
                continue
            p95 = percentile(seconds, 95)
            if page == "dashboard":
                slowest = max(slowest, p95)
            compared = (
                f"analytics p95 {base * 1000:7.0f} ms  ratio {p95 / base:5.2f}x"
                if base
                else "(Analytics page not measured)"
                if result.get("dashboards_only")
                else "(no Analytics page for this role)"
            )
            verdict = ("within" if p95 <= BUDGET_SECONDS else "OVER") if page == "dashboard" else ""
            if measured.get("direct", {}).get(page):
                direct = percentile(measured["direct"][page], 95)
                compared = f"direct p95 {direct * 1000:7.0f} ms  {compared}"
            lines.append(f"{role:<12} {page:<24} p95 {p95 * 1000:7.0f} ms   {compared}   {verdict}")
    lines.append(
        f"slowest dashboard p95 {slowest * 1000:.0f} ms: "
        f"{'within' if slowest <= BUDGET_SECONDS else 'OVER'} budget"
    )
    return lines


def _measure(database_url: str, home: str) -> dict:
    return run_child(__file__, database_url, home, "--measure")


def _timed(client, url: str) -> list[float]:
    if client.get(url).status_code != 200:
        return []
    seconds = []
    for _round in range(ROUNDS):
        started = time.perf_counter()
        response = client.get(url)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return seconds


def _child() -> dict:
    start_django(fresh=False)
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client

    from guanxi.accounts.models import User
    from guanxi.analytics.models import CustomerMonth, SalesDay, SalesLineDay, SalesRollupMark
    from guanxi.analytics.rollup import rebuild_customer_counts, refresh_sales_rollup
    from guanxi.customers.models import Customer
    from guanxi.demo.reference import USERS
    from guanxi.reports.catalogue import REPORTS

    call_command("migrate", verbosity=0)
    users = [user for username, *_rest in USERS if (user := User.objects.filter(username=username).first())]
    clients = {}
    for user in users:
        clients[user.username] = Client()
        clients[user.username].force_login(user)
    # The baseline first: without a built rollup the dashboards aggregate the orders and lines directly.
    SalesRollupMark.objects.all().delete()
    CustomerMonth.objects.all().delete()
    direct = {
        username: {page: _timed(client, url) for page, url in ROLLUP_PAGES.items()}
        for username, client in clients.items()
    }
    started = time.perf_counter()
    refresh_sales_rollup(full=True)
    rollup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():  # as the metrics refresh counts them, after writing the metric rows
        rebuild_customer_counts()
    counts_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:  # as autovacuum would after the rebuild
        for model in (SalesDay, SalesLineDay):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    roles = {}
    for username, client in clients.items():
        pages = {"dashboard": _timed(client, "/reports/")}
        if pages["dashboard"]:
            for report in [] if DASHBOARDS_ONLY else REPORTS:
                pages[report.slug] = _timed(client, f"/reports/{report.slug}/")
            pages["margin by month"] = _timed(client, ROLLUP_PAGES["margin by month"])
        roles[username] = {
            "pages": pages,
            "direct": direct[username],
            "analytics": [] if DASHBOARDS_ONLY else _timed(client, "/analytics/"),
        }
    return {
        "customers": Customer.objects.count(),
        "vendor": connection.vendor,
        "dashboards_only": DASHBOARDS_ONLY,
        "roles": roles,
        "rollup_seconds": rollup_seconds,
        "counts_seconds": counts_seconds,
        "rollup_rows": SalesLineDay.objects.count(),
    }


if __name__ == "__main__" and sys.argv[1:] == ["--measure"]:
    print(json.dumps(_child()))
elif __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
