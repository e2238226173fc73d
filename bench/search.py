"""Customer list and search speed on the demo shop, beside a naive `icontains` search of the same data.

Each engine runs in a child process on a copy of the bench dataset (bench/_support.py: the demo shop
with metrics, built once per scale and kept; default 20,000 customers, the budget's scale is
1,000,000). Measured, as the group manager (sees every unit) and as a unit head, for each kind of
query:

- the list request: GET /customers/?q=… through the Django test client (scoping, search, page render);
- the baseline: the first thing one would write, `Customer.objects.restrict(user).filter(name__icontains=q
  | identities__value__icontains=q | orders__number__icontains=q).distinct()[:50]`, evaluated.

Queries are drawn from the data itself (a name prefix, a full phone written as 138 1234 5678, the
last four digits, an email, an order number). Budget: p95 < 200 ms at 1M customers.
Run `python bench/search.py [customers]` (or `guanxi bench search --customers 1000000`); `run(customers)`
returns the printed lines.
"""

import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_support.py, also under `guanxi bench`
from _support import dataset_roles, on_each_dataset, percentile, run_child, start_django

DEFAULT_CUSTOMERS = 20_000
BUDGET_P95_MS = 200.0
SAMPLES = 40
# The naive baseline scans every customer, identity and order: seconds a query at 1M, so fewer of them.
BASELINE_SAMPLES = 3
SEED = 7
KINDS = ("name prefix", "full phone", "last four", "email", "order number")


def run(customers: int | None = None) -> list[str]:
    customers = customers or DEFAULT_CUSTOMERS
    lines: list[str] = []
    for engine, result, error in on_each_dataset("gx-bench-search-", customers, _measure):
        lines += [f"{engine:<10} skipped: {error}"] if result is None else _report(result)
    return lines


def _report(result: dict) -> list[str]:
    lines = [
        f"Customer search on {result['customers']:,} customers ({result['vendor']}); "
        f"{SAMPLES} queries per kind; baseline (the first {BASELINE_SAMPLES}) = naive icontains over name, "
        "identities and order numbers",
    ]
    for role, kinds in result["roles"].items():
        for kind in KINDS:
            ours, base = kinds[kind]["ours"], kinds[kind]["baseline"]
            p95 = percentile(ours, 95)
            ratio = percentile(base, 95) / p95 if p95 else float("inf")
            lines.append(
                f"{role:<8} {kind:<13} p50 {percentile(ours, 50):7.1f} ms  p95 {p95:7.1f} ms   "
                f"baseline p50 {percentile(base, 50):8.1f} ms  p95 {percentile(base, 95):8.1f} ms   "
                f"ratio {ratio:6.1f}x   budget {BUDGET_P95_MS:.0f} ms: {'within' if p95 <= BUDGET_P95_MS else 'OVER'}"
            )
    return lines


def _measure(database_url: str, home: str) -> dict:
    return run_child(__file__, database_url, home, "--measure")


def _child() -> dict:
    start_django(fresh=False)
    from django.db import connection

    from guanxi.customers.models import Customer

    users = dataset_roles()
    queries = _sample_queries()
    roles = {label: _time_role(user, queries) for label, user in users}
    return {"customers": Customer.objects.count(), "vendor": connection.vendor, "roles": roles}


def _sample_queries() -> dict[str, list[str]]:
    from guanxi.commerce.models import Order
    from guanxi.customers.models import Customer, Identity

    rng = random.Random(SEED)  # noqa: S311 (reproducible sampling, not security)
    top = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def pick(queryset, field: str) -> list[str]:
        values: list[str] = []
        for _attempt in range(SAMPLES * 5):
            if len(values) == SAMPLES:
                break
            start = rng.randint(1, max(top, 1))
            value = queryset.filter(**{"customer_id__gte" if field != "name" else "pk__gte": start})
            value = (
                value.order_by("customer_id" if field != "name" else "pk")
                .values_list(field, flat=True)
                .first()
            )
            if value:
                values.append(value)
        return values

    phones = pick(Identity.objects.filter(kind="phone"), "value")
    names = [
        name[:1] if rng.random() < 0.5 else name[:2]
        for name in pick(Customer.objects.exclude(name=""), "name")
    ]
    return {
        "name prefix": names,
        "full phone": [f"{p[3:6]} {p[6:10]} {p[10:]}" if p.startswith("+86") else p for p in phones],
        "last four": [p[-4:] for p in phones],
        "email": pick(Identity.objects.filter(kind="email"), "value"),
        "order number": pick(Order.objects.exclude(customer=None), "number"),
    }


def _time_role(user, queries: dict[str, list[str]]) -> dict:
    from django.db.models import Q
    from django.test import Client

    from guanxi.customers.models import Customer

    client = Client()
    client.force_login(user)
    client.get("/customers/")  # warm caches: session, templates, connection
    results = {}
    for kind, values in queries.items():
        ours, baseline = [], []
        for value in values:
            started = time.perf_counter()
            response = client.get(
                "/customers/", {"q": value}, headers={"HX-Request": "true", "HX-Target": "customer-table"}
            )
            ours.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            if len(baseline) == BASELINE_SAMPLES:
                continue
            started = time.perf_counter()
            naive = Customer.objects.restrict(user, "view").filter(
                Q(name__icontains=value)
                | Q(identities__value__icontains=value)
                | Q(orders__number__icontains=value)
            )
            list(naive.distinct().order_by("-pk")[:50])
            baseline.append((time.perf_counter() - started) * 1000)
        results[kind] = {"ours": ours, "baseline": baseline}
    return results


if __name__ == "__main__" and sys.argv[1:] == ["--measure"]:
    print(json.dumps(_child()))
elif __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
