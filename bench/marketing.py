"""Flow enrolment on segment entry and the step scheduler, beside naive per-customer loops.

On each engine, in a child process on a fresh database: a unit, N customers in a segment (entered
now), a live flow triggered by entering the segment with two real steps (a condition on the segment,
then a random A/B split), and:

- Enrolment: `engine.scan` (the trigger pass: one query for the occurrences, then one
  INSERT … ON CONFLICT DO NOTHING per 1,000 rows on the UNIQUE enrolment key, holdout by hash).
  Baseline: the naive loop — per customer, look for an enrolment, insert one — on a sample, scaled.
  Budget: 1M customers in < 60 s on PostgreSQL (`--customers 1000000`; the default scale is smaller).
- Scheduler: 2 worker processes run `engine.run_due` (claims under a lease, one transaction per step
  with its UNIQUE StepRun) until every enrolment is done; step executions per second. Baseline: one
  worker taking one enrolment per claim (a naive per-customer loop through the same code).
  Budget: ≥ 1,000 step executions/s with 2 workers.

`python bench/marketing.py [customers]` or `guanxi bench marketing --customers N`.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_support.py, also under `guanxi bench`
from _support import on_each_engine, run_child, start_django

DEFAULT_CUSTOMERS = 20_000
NAIVE_SAMPLE = 1_000
WORKERS = 2
BATCH_LIMIT = 500  # enrolments per claim
BUDGET_ENROL_1M = 60.0
BUDGET_STEPS = 1_000.0
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/guanxi_marketing_bench"

WORKER = """
import sys, time
from pathlib import Path
import django
django.setup()
from guanxi.marketing import engine
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.01)
limit = int(sys.argv[2])
idle = 0
while idle < 3:
    done = engine.run_due(limit=limit, passes=1).steps
    idle = idle + 1 if not done else 0
    if not done:
        time.sleep(0.05)
"""


def run(customers: int | None = None) -> list[str]:
    customers = customers or DEFAULT_CUSTOMERS
    lines = [f"marketing: {customers:,} customers entering a segment, a flow of 2 steps"]
    for engine, result, error in on_each_engine(
        "gx-bench-marketing-",
        POSTGRES_URL,
        lambda url, home: run_child(__file__, url, home, "--measure", str(customers)),
    ):
        if result is None:
            lines.append(f"{engine:<10} skipped: {error}")
            continue
        enrol, naive = result["enrol_seconds"], result["naive_enrol_seconds"]
        at_1m = enrol * 1_000_000 / customers
        lines.append(
            f"{engine:<10} enrol {customers:,} on segment entry: {enrol:6.1f} s   naive loop: {naive:7.1f} s"
            f"   ratio {naive / enrol:5.1f}x   at 1M: {at_1m:5.1f} s (budget < {BUDGET_ENROL_1M:.0f} s on PostgreSQL)"
        )
        rate, naive_rate = result["steps_per_second"], result["naive_steps_per_second"]
        lines.append(
            f"{engine:<10} step executions, {WORKERS} workers: {rate:7.0f}/s   naive (1 per claim, 1 worker): "
            f"{naive_rate:6.0f}/s   ratio {rate / naive_rate:5.1f}x   budget ≥ {BUDGET_STEPS:.0f}/s"
        )
    return lines


def _child(customers: int) -> dict:
    start_django(fresh=True)
    from django.utils import timezone

    from guanxi.accounts import actions as accounts
    from guanxi.customers.models import Customer, CustomerUnit
    from guanxi.marketing import actions, engine
    from guanxi.marketing.models import Enrolment, Flow, StepRun
    from guanxi.segments.models import Segment, SegmentMembership

    accounts.ensure_organisation("Bench")
    unit = accounts.create_business_unit(code="bench", name="Bench")
    people = Customer.objects.bulk_create([Customer(name=f"c{i}") for i in range(customers)], batch_size=5000)
    CustomerUnit.objects.bulk_create([CustomerUnit(customer=c, unit=unit) for c in people], batch_size=5000)
    segment = Segment.objects.create(name="bench", kind=Segment.Kind.STATIC, unit=unit)
    flow = actions.save_flow(unit=unit, name="bench", holdout_percent=10)
    actions.publish(
        flow,
        {
            "trigger": {"kind": "segment_entered", "segment": segment.pk},
            "steps": [
                {"id": "member", "kind": "condition", "segment": segment.pk},
                {"id": "ab", "kind": "split", "percent_b": 50},
            ],
        },
    )
    actions.set_status(flow, Flow.Status.ACTIVE)
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, customer=c, entered_at=timezone.now()) for c in people],
        batch_size=5000,
    )
    _analyze()
    flow.refresh_from_db()
    started = time.perf_counter()
    engine.scan(flows=engine.active_flows([unit.pk]))
    enrol_seconds = time.perf_counter() - started
    enrolled = Enrolment.objects.filter(flow=flow).count()
    if enrolled != customers:
        raise RuntimeError(f"enrolled {enrolled} of {customers}")
    active = Enrolment.objects.filter(flow=flow, state="active").count()

    # Naive enrolment: per customer, look then insert, on a second flow over a sample.
    naive_flow = actions.save_flow(unit=unit, name="naive", holdout_percent=0)
    actions.publish(naive_flow, flow.current_version.definition)
    version = naive_flow.current_version
    sample = [c.pk for c in people[:NAIVE_SAMPLE]]
    started = time.perf_counter()
    for pk in sample:
        if not Enrolment.objects.filter(flow=naive_flow, customer_id=pk, trigger_key=f"n:{pk}").exists():
            Enrolment.objects.create(
                flow=naive_flow,
                version=version,
                unit=unit,
                customer_id=pk,
                trigger_key=f"n:{pk}",
                step="member",
                due_at=timezone.now(),
                available_at=timezone.now(),
            )
    naive_enrol_seconds = (time.perf_counter() - started) * customers / len(sample)

    # Scheduler: the naive flow's sample, one enrolment per claim, one worker; then ours.
    _analyze()
    started = time.perf_counter()
    _workers(1, limit=1, only_flow=naive_flow.pk)
    naive_seconds = time.perf_counter() - started
    naive_runs = StepRun.objects.filter(enrolment__flow=naive_flow).count()
    started = time.perf_counter()
    _workers(WORKERS, limit=BATCH_LIMIT)
    seconds = time.perf_counter() - started
    runs = StepRun.objects.filter(enrolment__flow=flow).count()
    if runs != 2 * active or Enrolment.objects.filter(state="active").exists():
        raise RuntimeError(f"{runs} step runs for {active} enrolments")
    return {
        "enrol_seconds": enrol_seconds,
        "naive_enrol_seconds": naive_enrol_seconds,
        "steps_per_second": runs / seconds,
        "naive_steps_per_second": naive_runs / naive_seconds,
    }


def _workers(count: int, *, limit: int, only_flow: int | None = None) -> None:
    from guanxi.marketing.models import Enrolment

    if only_flow is not None:  # hold the other flow's enrolments back while the naive loop runs
        Enrolment.objects.exclude(flow_id=only_flow).filter(state="active").update(
            available_at="2999-01-01T00:00Z"
        )
    go = Path(tempfile.mkdtemp()) / "go"
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(go), str(limit)], env=os.environ.copy())  # noqa: S603
        for _ in range(count)
    ]
    time.sleep(5)  # let them set Django up before the clock starts
    go.touch()
    for worker in workers:
        worker.wait()
    if only_flow is not None:
        from django.utils import timezone

        Enrolment.objects.filter(state="active").update(available_at=timezone.now())


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        import json

        print(json.dumps(_child(int(sys.argv[2]))))
    else:
        for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
            print(line)
