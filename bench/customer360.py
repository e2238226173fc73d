"""Customer 360 page, API detail and list page speed on the demo shop, beside a naive 360 read.

Each engine runs in a child process on a copy of the bench dataset (bench/_support.py: the demo shop
with metrics, built once per scale and kept; default 20,000 customers, the budget's scale is
1,000,000). Measured, as the group manager (sees every unit) and as a unit head, each over the same
customers (SAMPLES drawn at random among those with orders, plus the HEAVIEST with the most orders):

- the 360 page: GET /customers/<id>/ through the Django test client (scoping, every panel, render);
- the API detail: GET /api/v1/customers/<id> with a token;
- the list page: GET /customers/ (first page, next page, and a page filtered by RFM segment);
- the baseline: the first thing one would write for a 360 view, unscoped: the customer, its
  identities, every order with its lines (one query per order), returns and notes, totals per store
  summed in Python.

Budgets (design.md §7): 360 page and API detail p95 < 100 ms, list pages p95 < 200 ms.
Run `python bench/customer360.py [customers]` (or `guanxi bench customer360 --customers 1000000`).
"""

import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_support.py, also under `guanxi bench`
from _support import dataset_roles, on_each_dataset, percentile, run_child, start_django

DEFAULT_CUSTOMERS = 20_000
SAMPLES = 40
HEAVIEST = 5
LIST_SAMPLES = 20
SEED = 11
BUDGET_DETAIL_MS = 100.0
BUDGET_LIST_MS = 200.0


def run(customers: int | None = None) -> list[str]:
    customers = customers or DEFAULT_CUSTOMERS
    lines: list[str] = []
    for engine, result, error in on_each_dataset("gx-bench-360-", customers, _measure):
        lines += [f"{engine:<10} skipped: {error}"] if result is None else _report(result)
    return lines


def _report(result: dict) -> list[str]:
    lines = [
        f"Customer 360 on {result['customers']:,} customers ({result['vendor']}); {SAMPLES} random customers "
        f"with orders + the {HEAVIEST} with most orders (up to {result['most_orders']} orders); "
        "baseline = naive unscoped 360 read (every order and its lines, one query per order)"
    ]
    for role, timings in result["roles"].items():
        base = timings["baseline"]
        base_p95 = percentile(base, 95)
        for label, key, budget in (
            ("360 page", "page", BUDGET_DETAIL_MS),
            ("API detail", "api", BUDGET_DETAIL_MS),
            ("list pages", "list", BUDGET_LIST_MS),
        ):
            values = timings[key]
            p95 = percentile(values, 95)
            compared = (
                f"baseline p95 {base_p95:7.1f} ms  ratio {base_p95 / p95:5.1f}x"
                if key != "list"
                else f"{'(no baseline: the budget alone)':<38}"
            )
            lines.append(
                f"{role:<8} {label:<11} p50 {percentile(values, 50):6.1f} ms  p95 {p95:6.1f} ms   {compared}   "
                f"budget {budget:.0f} ms: {'within' if p95 <= budget else 'OVER'}"
            )
    return lines


def _measure(database_url: str, home: str) -> dict:
    return run_child(__file__, database_url, home, "--measure")


def _child() -> dict:
    start_django(fresh=False)
    from django.db import connection

    from guanxi.customers.models import Customer

    roles, most_orders = {}, 0
    for label, user in dataset_roles():
        sample, heaviest = _sample_customers(user)
        most_orders = max(most_orders, heaviest)
        roles[label] = _time_role(user, sample)
    return {
        "customers": Customer.objects.count(),
        "vendor": connection.vendor,
        "roles": roles,
        "most_orders": most_orders,
    }


def _sample_customers(user) -> tuple[list[int], int]:
    """Random customers with orders that `user` may see, and the heaviest buyers among them."""
    from guanxi.analytics.models import CustomerMetric
    from guanxi.customers.models import Customer

    rng = random.Random(SEED)  # noqa: S311 (reproducible sampling, not security)
    visible = Customer.objects.active().restrict(user, "view").filter(orders__isnull=False)
    top = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    sample: list[int] = []
    for _attempt in range(SAMPLES * 5):
        if len(sample) == SAMPLES:
            break
        found = (
            visible.filter(pk__gte=rng.randint(1, max(top, 1))).order_by("pk").values_list("pk", flat=True)
        )
        if (pk := found.first()) is not None and pk not in sample:
            sample.append(pk)
    heavy = list(
        CustomerMetric.objects.filter(unit=None, customer__in=Customer.objects.restrict(user, "view"))
        .order_by("-orders")
        .values_list("customer_id", "orders")[:HEAVIEST]
    )
    return sample + [pk for pk, _orders in heavy], max((orders for _pk, orders in heavy), default=0)


def _time_role(user, sample: list[int]) -> dict:
    from django.test import Client

    from guanxi.accounts import actions as account_actions
    from guanxi.customers.models import Customer
    from guanxi.customers.views import PAGE_SIZE

    client = Client()
    client.force_login(user)
    secret = account_actions.create_api_token(user=user, name="bench").secret
    api_headers = {"Authorization": f"Bearer {secret}"}
    client.get("/customers/")  # warm caches: session, templates, connection
    timings: dict[str, list[float]] = {"page": [], "api": [], "list": [], "baseline": []}
    for pk in sample:
        timings["page"].append(_timed(client, f"/customers/{pk}/"))
        timings["api"].append(_timed(client, f"/api/v1/customers/{pk}", headers=api_headers))
        started = time.perf_counter()
        _naive_360(pk)
        timings["baseline"].append((time.perf_counter() - started) * 1000)
    table = {"HX-Request": "true", "HX-Target": "customer-table"}
    visible = Customer.objects.active().restrict(user, "view").order_by("-pk")
    for _round in range(LIST_SAMPLES // 4):
        timings["list"].append(_timed(client, "/customers/"))
        first_page = visible.values_list("pk", flat=True)[PAGE_SIZE - 1]
        timings["list"].append(_timed(client, "/customers/", {"after": first_page}, headers=table))
        timings["list"].append(_timed(client, "/customers/", {"rfm_segment": "champions"}, headers=table))
        timings["list"].append(_timed(client, "/customers/", {"rfm_segment": "at_risk"}, headers=table))
    return timings


def _timed(client, path: str, data: dict | None = None, headers: dict | None = None) -> float:
    started = time.perf_counter()
    response = client.get(path, data, headers=headers or {})
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code)
    return elapsed


def _naive_360(pk: int) -> None:
    from collections import defaultdict
    from decimal import Decimal

    from guanxi.commerce.models import Order, Return
    from guanxi.customers.models import Customer, Note

    customer = Customer.objects.get(pk=pk)
    list(customer.identities.all())
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for order in Order.objects.filter(customer=customer).order_by("-placed_at"):
        list(order.lines.all())
        totals[order.store_id] += order.total_amount
    list(Return.objects.filter(customer=customer))
    list(Note.objects.filter(customer=customer))


if __name__ == "__main__" and sys.argv[1:] == ["--measure"]:
    print(json.dumps(_child()))
elif __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
