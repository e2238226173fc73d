"""Every navigation page as every demo role: p95 per page, beside the group manager's on the same page.

Runs on a copy of the bench dataset (bench/_support.py: the demo shop with metrics; default scale is
the demo's 6,000 customers), on SQLite and on PostgreSQL. In the child each demo user signs in, the
sidebar is built for them by the same code the pages use (`guanxi.web.context_processors.navigation`),
and every link it shows is fetched ROUNDS times after one warm-up request, through the Django test
client (middleware, scoping, queries, templates).

The baseline is the group manager (sees every unit) on the same page; the ratio is role / manager, so
above 1 means the role's scoped path is slower than the group-wide one. A page the sidebar shows but
that answers anything other than 200 is reported as such (the navigation must hide what a role may not
open).

Then the Analytics page taken apart, for the group manager (every unit's rows): each analysis computed
once on its own (best of ROUNDS), beside the Pareto curve, the card that already read every buyer's
spend before "ABC within each customer class" read every metric row a second time.

Budgets (issue 11): every page p95 < 1 s at the demo scale and < 3 s at 1,000,000 customers.
Run `python bench/pages.py [customers]` (or `guanxi bench pages --customers 1000000`).
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_support.py, also under `guanxi bench`
from _support import on_each_dataset, percentile, run_child, start_django

DEFAULT_CUSTOMERS = 6_000
ROUNDS = 5
BASELINE_ROLE = "manager"


def budget_seconds(customers: int) -> float:
    return 1.0 if customers <= 10_000 else 3.0


def run(customers: int | None = None) -> list[str]:
    customers = customers or DEFAULT_CUSTOMERS
    lines: list[str] = []
    for engine, result, error in on_each_dataset("gx-bench-pages-", customers, _measure):
        lines += [f"{engine:<10} skipped: {error}"] if result is None else _report(result)
    return lines


def _report(result: dict) -> list[str]:
    budget = budget_seconds(result["customers"])
    lines = [
        f"Navigation pages on {result['customers']:,} customers ({result['vendor']}); {ROUNDS} requests "
        f"per page after one warm-up; baseline = the {BASELINE_ROLE}'s p95 on the same page; "
        f"budget p95 < {budget:.0f} s"
    ]
    baseline = result["roles"].get(BASELINE_ROLE, {})
    slowest = 0.0
    for role, pages in result["roles"].items():
        for page, measured in pages.items():
            if measured["status"] != 200:
                lines.append(f"{role:<12} {page:<28} answered {measured['status']} (shown in its sidebar)")
                continue
            p95 = percentile(measured["seconds"], 95)
            slowest = max(slowest, p95)
            base = baseline.get(page)
            compared = (
                f"manager p95 {percentile(base['seconds'], 95) * 1000:7.0f} ms  "
                f"ratio {p95 / percentile(base['seconds'], 95):5.2f}x"
                if base and base["status"] == 200
                else f"{'(the manager has no such page)':<34}"
            )
            lines.append(
                f"{role:<12} {page:<28} p50 {percentile(measured['seconds'], 50) * 1000:7.0f} ms  "
                f"p95 {p95 * 1000:7.0f} ms   {compared}   {'within' if p95 <= budget else 'OVER'}"
            )
    lines.append(
        f"slowest page p95 {slowest * 1000:.0f} ms: {'within' if slowest <= budget else 'OVER'} budget"
    )
    analyses = result.get("analyses") or {}
    if ANALYSIS_BASELINE in analyses:  # no sales, no cards to take apart
        base = analyses[ANALYSIS_BASELINE]
        lines.append(
            f"Analytics page taken apart ({BASELINE_ROLE}, all units; best of {ROUNDS}); baseline = the "
            f"{ANALYSIS_BASELINE} card, which reads every buyer's spend"
        )
        lines += [
            f"  {name:<14} {seconds * 1000:8.1f} ms   ratio {seconds / base:5.2f}x"
            for name, seconds in analyses.items()
        ]
    return lines


def _measure(database_url: str, home: str) -> dict:
    return run_child(__file__, database_url, home, "--measure")


def _child() -> dict:
    start_django(fresh=False)
    from django.core.management import call_command
    from django.db import connection

    from guanxi.accounts.models import User
    from guanxi.customers.models import Customer
    from guanxi.demo.reference import USERS

    call_command("migrate", verbosity=0)
    roles = {}
    for username, *_rest in USERS:
        user = User.objects.filter(username=username).first()
        if user is not None:
            roles[username] = _time_pages(user)
    manager = User.objects.filter(username=BASELINE_ROLE).first()
    analyses = _time_analyses(manager) if manager else {}
    return {
        "customers": Customer.objects.count(),
        "vendor": connection.vendor,
        "roles": roles,
        "analyses": analyses,
    }


# The Analytics page's cards (reports of the kit), in the page's order.
ANALYSES = (
    "cohorts",
    "returning",
    "devices",
    "pareto",
    "abc_by_class",
    "categories",
    "channels",
    "provinces",
    "seasonal",
    "rfm",
    "clv",
    "abc",
    "lifecycle",
)
ANALYSIS_BASELINE = "pareto"


def _time_analyses(user) -> dict[str, float]:
    """Seconds per card of the organisation-wide Analytics page: its report run through the kit."""
    from guanxi.reports import analyses, analytics_page, catalogue
    from guanxi.reports.kit import Scope, run

    end = analyses.last_sale_month(user, Scope(unit=None))  # the month the charts end at, shared by most
    cards = analytics_page.plan(None, end, has_metrics=True)
    timings = {}
    for name in ANALYSES:
        if name not in cards:
            continue
        slug, scope = cards[name]
        seconds = []
        for _round in range(ROUNDS):
            started = time.perf_counter()
            run(catalogue.BY_SLUG[slug], user, scope)
            seconds.append(time.perf_counter() - started)
        timings[name] = min(seconds)
    return timings


def _sidebar_links(user) -> list[tuple[str, str]]:
    """(label, url) of every link the sidebar shows `user`, built by the pages' own context processor."""
    from django.test import RequestFactory
    from django.utils import translation

    from guanxi.web.context_processors import navigation

    request = RequestFactory().get("/")
    request.user = user
    with translation.override("en"):
        sections = navigation(request).get("nav_sections", [])
        return [(link.label, link.url) for section in sections for link in section["links"]]


def _time_pages(user) -> dict:
    from django.test import Client

    client = Client()
    client.force_login(user)
    pages = {}
    for label, url in _sidebar_links(user):
        warm = client.get(url)
        seconds = []
        if warm.status_code == 200:
            for _round in range(ROUNDS):
                started = time.perf_counter()
                response = client.get(url)
                seconds.append(time.perf_counter() - started)
                assert response.status_code == 200, (url, response.status_code)
        pages[f"{label} {url}"] = {"status": warm.status_code, "seconds": seconds}
    return pages


if __name__ == "__main__" and sys.argv[1:] == ["--measure"]:
    print(json.dumps(_child()))
elif __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
