"""Outbox throughput to a local fake gateway, and the gates over a large queue, beside naive loops.

On each engine, in a child process on a fresh database: a unit with a generic SMS channel pointing at
the fake gateway (in the child, on 127.0.0.1), a marketing template, and N consenting customers.

- Throughput: N messages queued, then 2 sender processes run the outbox (`sending.drain`: claim,
  gates for the batch in a few queries under the customers' row locks, send, record in bulk) until
  every message is sent. Baseline, measured the same way on N more messages: the naive worker loop —
  per message, query consent, suppression, the day's and week's sends and the policy, send, update
  the row. Budget: ≥ 500 messages/s on PostgreSQL with 2 workers.
- Gates: the gate evaluation (`gates.gather` + `gates.evaluate`, as a worker runs it, without
  sending) over every queued message, in batches of 5,000; the baseline is the naive per-message
  queries on a sample, scaled to the same count. Budget: 1M queued messages in < 60 s
  (`--customers 1000000`; the default scale is smaller and says so).

`python bench/messaging.py [customers]` or `guanxi bench messaging --customers N`.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_support.py, also under `guanxi bench`
from _support import on_each_engine, run_child, start_django

DEFAULT_CUSTOMERS = 20_000
THROUGHPUT_MESSAGES = 10_000
SENDERS = 2
GATE_BATCH = 5_000
NAIVE_GATE_SAMPLE = 3_000
BUDGET_RATE = 500.0
BUDGET_GATES_1M = 60.0
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/guanxi_messaging_bench"

SENDER = """
import os, sys, time
from pathlib import Path
import django
django.setup()
from guanxi.messaging import sending
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.01)
if sys.argv[2] == "ours":
    sending.drain(seconds=600, idle_poll=0.05)
else:
    from guanxi.messaging.naive import naive_send_loop
    naive_send_loop(int(sys.argv[3]), int(sys.argv[4]))
"""


def run(customers: int | None = None) -> list[str]:
    customers = customers or DEFAULT_CUSTOMERS
    lines = [
        f"messaging: {customers:,} queued messages for the gates, {min(customers, THROUGHPUT_MESSAGES):,} sent"
    ]
    for engine, result, error in on_each_engine(
        "gx-bench-messaging-",
        POSTGRES_URL,
        lambda url, home: run_child(__file__, url, home, "--measure", str(customers)),
    ):
        if result is None:
            lines.append(f"{engine:<10} skipped: {error}")
            continue
        rate, naive_rate = result["rate"], result["naive_rate"]
        lines.append(
            f"{engine:<10} send throughput, {SENDERS} workers: {rate:8.0f} msg/s   naive loop: {naive_rate:7.0f} msg/s"
            f"   ratio {rate / naive_rate:5.1f}x"
            + (f"   budget ≥ {BUDGET_RATE:.0f}" if engine == "postgresql" else "")
        )
        scaled = result["gates_seconds"] * 1_000_000 / result["queued"]
        lines.append(
            f"{engine:<10} gates over {result['queued']:,} queued: {result['gates_seconds']:6.1f} s"
            f"   naive: {result['naive_gates_seconds']:8.1f} s   ratio {result['naive_gates_seconds'] / result['gates_seconds']:5.1f}x"
            f"   at 1M: {scaled:5.1f} s (budget < {BUDGET_GATES_1M:.0f} s)"
        )
    return lines


def _child(customers: int) -> dict:
    import os

    os.environ["GUANXI_ALLOW_PRIVATE_GATEWAYS"] = "1"  # the fake gateway listens on 127.0.0.1
    start_django(fresh=True)
    from django.conf import settings

    from guanxi.messaging import fake_gateways as fakes

    settings.GUANXI_ALLOW_PRIVATE_GATEWAYS = True
    gateways = fakes.Gateways(smtp_port=None).start()
    try:
        unit, customer_ids = _set_up(customers, gateways.url("/sms/send"))
        sent = min(customers, THROUGHPUT_MESSAGES)
        rate = _throughput(unit, customer_ids[:sent], "bench:ours", "ours")
        naive_rate = _throughput(unit, customer_ids[:sent], "bench:naive", "naive")
        gates_seconds, naive_gates_seconds, queued = _gates(unit, customer_ids)
    finally:
        gateways.stop()
    return {
        "rate": rate,
        "naive_rate": naive_rate,
        "gates_seconds": gates_seconds,
        "naive_gates_seconds": naive_gates_seconds,
        "queued": queued,
    }


def _set_up(customers: int, url: str):
    import datetime
    import random

    from django.db import transaction

    from guanxi.accounts import actions as accounts
    from guanxi.customers.identities import normalise_phone
    from guanxi.customers.models import Consent, Customer, CustomerUnit, Identity
    from guanxi.messaging import actions

    accounts.ensure_organisation("Bench")
    unit = accounts.create_business_unit(code="bench", name="Bench")
    actions.save_channel(
        unit=unit, name="sms", kind="sms_http", values={"url": url, "api_key": "fake-sms-key"}
    )
    actions.save_template(
        key="promo",
        name="Promo",
        medium="sms",
        purpose="marketing",
        unit=unit,
        contents={"zh-hans": {"body": "{{ customer.name }}，会员日 8 折。回复TD退订"}},
    )
    actions.save_policy(
        unit, quiet_start=datetime.time(0), quiet_end=datetime.time(0), daily_cap=50, weekly_cap=50
    )
    rng = random.Random(7)  # noqa: S311
    phones: set[str] = set()
    while len(phones) < customers:
        phone = normalise_phone(
            "1" + rng.choice("35789") + "".join(rng.choice("0123456789") for _ in range(9))
        )
        if phone:
            phones.add(phone)
    ordered = sorted(phones)
    ids: list[int] = []
    for start in range(0, customers, 10_000):
        chunk = ordered[start : start + 10_000]
        with transaction.atomic():
            made = Customer.objects.bulk_create(
                [Customer(name=f"顾客{start + i}") for i in range(len(chunk))]
            )
            CustomerUnit.objects.bulk_create([CustomerUnit(customer=c, unit=unit) for c in made])
            Identity.objects.bulk_create(
                [
                    Identity(customer=c, kind="phone", value=p, source="bench")
                    for c, p in zip(made, chunk, strict=True)
                ]
            )
            Consent.objects.bulk_create(
                [
                    Consent(
                        customer=c, channel="sms", state="granted", method="double_opt_in", source="bench"
                    )
                    for c in made
                ]
            )
        ids += [c.pk for c in made]
    return unit, ids


def _throughput(unit, customer_ids: list[int], send_key: str, mode: str) -> float:
    import os
    import tempfile

    from guanxi.messaging import actions
    from guanxi.messaging.models import Message

    actions.enqueue_many(
        unit=unit,
        customer_ids=customer_ids,
        purpose="marketing",
        send_key=send_key,
        template="promo",
        channel="sms",
    )
    _analyze()
    go = Path(tempfile.mkdtemp()) / "go"
    senders = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", SENDER, str(go), mode, str(index), str(SENDERS)], env=os.environ.copy()
        )
        for index in range(SENDERS)
    ]
    time.sleep(5)  # let them set Django up before the clock starts
    started = time.perf_counter()
    go.touch()
    for sender in senders:
        sender.wait()
    seconds = time.perf_counter() - started
    done = Message.objects.filter(send_key__startswith=send_key, state="sent").count()
    if done != len(customer_ids):
        states = dict(
            Message.objects.filter(send_key__startswith=send_key)
            .values_list("state", "reason")
            .distinct()[:5]
        )
        raise RuntimeError(f"{mode}: {done} of {len(customer_ids)} sent ({states})")
    return done / seconds


def _analyze() -> None:
    """Fresh statistics after the bulk load, as autovacuum would have them on a live database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _gates(unit, customer_ids: list[int]) -> tuple[float, float, int]:
    from django.db import connection
    from django.utils import timezone

    from guanxi.messaging import actions, gates
    from guanxi.messaging.models import Message
    from guanxi.messaging.naive import naive_decision

    actions.enqueue_many(
        unit=unit,
        customer_ids=customer_ids,
        purpose="marketing",
        send_key="bench:gates",
        template="promo",
        channel="sms",
    )
    queued = Message.objects.filter(state="queued")
    ids = list(queued.order_by("pk").values_list("pk", flat=True))
    started = time.perf_counter()
    now = timezone.now()
    decided = 0
    for start in range(0, len(ids), GATE_BATCH):
        chunk = ids[start : start + GATE_BATCH]
        batch = Message.objects.filter(pk__gte=chunk[0], pk__lte=chunk[-1], state="queued")
        rows = [gates.GateRow(*values) for values in batch.values_list(*gates.GATE_FIELDS)]
        decided += len(gates.evaluate(rows, gates.gather(rows, now, batch), now))
    gates_seconds = time.perf_counter() - started
    sample = list(Message.objects.filter(pk__in=ids[:NAIVE_GATE_SAMPLE]))
    started = time.perf_counter()
    for row in sample:
        naive_decision(row, now)
    naive_seconds = (time.perf_counter() - started) * len(ids) / len(sample)
    connection.close()
    assert decided == len(ids)
    return gates_seconds, naive_seconds, len(ids)


if __name__ == "__main__" and sys.argv[1:2] == ["--measure"]:
    print(json.dumps(_child(int(sys.argv[2]))))
elif __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
