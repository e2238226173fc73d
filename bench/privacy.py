"""Subject access export of a customer with 10,000 events, beside a naive export.

On each engine, in a child process on a fresh database: one unit and store, the customer with a phone,
an e-mail, an address, 50 orders with a line each, a note and EVENTS behavioural events, plus 2,000
other customers with their own events (so reads must find the person's rows, not the whole table).

- Export: the privacy job's work (`perform_export`: every registered table read with `values()`,
  data.json and a CSV per table zipped). Budget: ≤ 60 s (reliability PR-3).
- Baseline: the first thing one would write: for every registered table, each of the person's rows
  fetched as a model instance and serialised with Django's JSON serializer one row at a time.

`python bench/privacy.py [events]` or `guanxi bench privacy --customers EVENTS` (the scale is events).
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_support.py, also under `guanxi bench`
from _support import on_each_engine, run_child, start_django

DEFAULT_EVENTS = 10_000
OTHER_CUSTOMERS = 2_000
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/guanxi_bench_privacy"
BUDGET_SECONDS = 60.0


def run(events: int | None = None) -> list[str]:
    events = events or DEFAULT_EVENTS
    lines = [
        f"privacy export: a customer with {events:,} events, 50 orders; baseline = naive row-by-row export"
    ]
    for engine, result, error in on_each_engine(
        "gx-bench-privacy-",
        POSTGRES_URL,
        lambda url, home: run_child(__file__, url, home, "--measure", str(events)),
    ):
        if result is None:
            lines.append(f"{engine:<10} skipped: {error}")
            continue
        seconds, naive = result["seconds"], result["naive_seconds"]
        lines.append(
            f"{engine:<10} export: {seconds:6.2f} s ({result['rows']:,} rows, {result['bytes'] / 1e6:.1f} MB zip)"
            f"   naive: {naive:6.2f} s   ratio {naive / seconds:5.1f}x   budget ≤ {BUDGET_SECONDS:.0f} s"
        )
    return lines


def _child(events: int) -> dict:
    start_django(fresh=True)
    from datetime import timedelta
    from decimal import Decimal

    from django.core import serializers
    from django.utils import timezone

    from guanxi.accounts.actions import create_business_unit, ensure_organisation
    from guanxi.commerce.models import Event, Order, OrderLine, Store
    from guanxi.customers.models import Address, Customer, CustomerUnit, Identity, Note
    from guanxi.privacy.actions import perform_export
    from guanxi.privacy.exporting import exports_dir
    from guanxi.privacy.models import PrivacyRequest
    from guanxi.privacy.subject import subject_for, tables

    ensure_organisation("Bench")
    unit = create_business_unit(code="home", name="Home")
    store = Store.objects.create(unit=unit, name="Flagship", channel="tmall", source="tmall:flagship")
    now = timezone.now()
    person = Customer.objects.create(name="欧阳晓梅", notes="bench")
    others = Customer.objects.bulk_create([Customer(name=f"客户{index}") for index in range(OTHER_CUSTOMERS)])
    CustomerUnit.objects.bulk_create([CustomerUnit(customer=c, unit=unit) for c in [person, *others]])
    Identity.objects.create(customer=person, kind="phone", value="+8613912345678")
    Identity.objects.create(customer=person, kind="email", value="xiaomei@mailbox-cn.net")
    Address.objects.create(customer=person, receiver="欧阳晓梅", phone="13912345678", street="望京西路88号")
    Note.objects.create(customer=person, body="VIP")
    for index in range(50):
        order = Order.objects.create(
            store=store,
            unit=unit,
            customer=person,
            source=store.source,
            external_id=f"o{index}",
            number=f"o{index}",
            status="completed",
            total_amount=Decimal("99.00"),
            item_count=1,
            placed_at=now,
        )
        OrderLine.objects.create(order=order, sku="S", name="Towel", quantity=1, unit_price=Decimal("99.00"))

    def make_events(customer, count, prefix):
        Event.objects.bulk_create(
            [
                Event(
                    store=store,
                    unit=unit,
                    customer=customer,
                    source="web",
                    external_id=f"{prefix}-{index}",
                    kind="browse",
                    properties={"url": f"/p/{index % 500}", "sku": f"S{index % 90}"},
                    occurred_at=now - timedelta(minutes=index),
                )
                for index in range(count)
            ],
            batch_size=2000,
        )

    make_events(person, events, "p")
    for other in others[:200]:
        make_events(other, 50, f"o{other.pk}")

    item = PrivacyRequest.objects.create(kind="export", customer=person)
    started = time.perf_counter()
    counts = perform_export(item)
    seconds = time.perf_counter() - started
    item.refresh_from_db()
    size = (exports_dir() / item.file).stat().st_size

    started = time.perf_counter()
    subject = subject_for(person)
    naive_rows = 0
    for table in tables():
        for pk in table.rows(subject.customer_ids).values_list("pk", flat=True):
            row = table.model._base_manager.get(pk=pk)
            serializers.serialize("json", [row])
            naive_rows += 1
    naive_seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "naive_seconds": naive_seconds,
        "rows": sum(counts.values()),
        "bytes": size,
        "naive_rows": naive_rows,
    }


if __name__ == "__main__" and sys.argv[1:2] == ["--measure"]:
    print(json.dumps(_child(int(sys.argv[2]))))
elif __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
