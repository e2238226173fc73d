"""Service at scale: the agent's inbox, the ticket list, a ticket page and the tickets API, p95 beside a
naive query, with TICKETS tickets in each of two business units; and the SLA scan over the open ones.

Each engine gets a fresh database (a SQLite file in a temporary GUANXI_HOME, and the PostgreSQL database
named by GUANXI_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/guanxi_bench_service).
The child makes two units with twenty agents and a head each and, with bulk inserts (a dataset builder,
not the product's actions), the tickets spread over the last two years: a tenth open (queued, assigned,
in progress, waiting), the rest resolved or archived; each measured ticket gets a conversation of twenty
entries. Every page is fetched through the Django test client (middleware, scoping, templates) ROUNDS
times after a warm-up, as an agent.

Baselines, the naive way to answer the same question: for the inbox, loading every open ticket of the
agent's units and sorting in Python; for the list and the API, counting every row and reading the first
page by OFFSET (Django's Paginator); for the ticket page, its conversation read entry by entry with the
author of each fetched separately. For the SLA scan (budget < 5 s over 100,000 open tickets), a naive
scan that loads every open ticket and computes its business minutes left in Python; the measured scan
finds the 1% of running clocks past due and the 1% within the warning time, alerts on each and enqueues
the e-mails.

Budget (issue 15): inbox and ticket page p95 < 100 ms with 1,000,000 tickets on PostgreSQL; SLA scan
< 5 s over 100,000 open tickets. Run `guanxi bench service [--customers N]`, where N is the tickets per
unit (default 500,000: a million in all).
"""

import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_support.py, also under `guanxi bench`
from _support import on_each_engine, percentile, run_child, start_django

DEFAULT_TICKETS = 500_000
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/guanxi_bench_service"
ROUNDS = 20
AGENTS = 20
PAGE_BUDGET_MS = 100
SCAN_BUDGET_S = 5.0


def run(tickets: int | None = None) -> list[str]:
    scale = tickets or DEFAULT_TICKETS
    lines = [
        f"Service with {scale:,} tickets per unit (2 units, {2 * scale:,} in all, a tenth open); {ROUNDS} requests "
        f"per page after a warm-up; budgets: inbox and ticket page p95 < {PAGE_BUDGET_MS} ms, SLA scan "
        f"< {SCAN_BUDGET_S:.0f} s (over 100,000 open tickets)"
    ]

    def measure(database_url: str, home: str) -> dict:
        return run_child(__file__, database_url, home, "--measure", str(scale))

    for engine, result, error in on_each_engine("gx-bench-service-", DEFAULT_POSTGRES_URL, measure):
        if result is None:
            lines.append(f"{engine:<10} skipped: {error}")
            continue
        lines.append(
            f"{engine:<10} data built in {result['build_seconds']:.0f} s; {result['open']:,} open tickets; "
            f"load average {result['load']:.1f} on the machine's 2 cores at the end"
        )
        for page, measured in result["pages"].items():
            p95 = percentile(measured["page"], 95) * 1000
            naive = percentile(measured["naive"], 95) * 1000
            budgeted = page in ("inbox", "ticket page")
            verdict = ("within" if p95 < PAGE_BUDGET_MS else "OVER") if budgeted else "(no budget)"
            lines.append(
                f"{engine:<10} {page:<12} p50 {percentile(measured['page'], 50) * 1000:6.1f} ms  p95 {p95:6.1f} ms"
                f"   naive p95 {naive:8.1f} ms   ratio {p95 / naive:5.2f}x   {verdict}"
            )
        scan = result["scan"]
        lines.append(
            f"{engine:<10} SLA scan     {scan['seconds']:6.2f} s for {scan['breaches']:,} breaches and "
            f"{scan['warnings']:,} warnings over {scan['open']:,} open tickets   naive {scan['naive_seconds']:6.2f} s"
            f"   ratio {scan['seconds'] / scan['naive_seconds']:5.2f}x   "
            f"{'within' if scan['seconds'] < SCAN_BUDGET_S else 'OVER'}"
        )
    return lines


def _build(scale: int) -> dict:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from guanxi.accounts import actions as account_actions
    from guanxi.accounts.roles import Role
    from guanxi.core.planner import refresh_planner_statistics
    from guanxi.service.models import Status, Ticket, TicketEvent

    rng = random.Random(15)  # noqa: S311 (a reproducible dataset, not a secret)
    now = timezone.now()
    account_actions.ensure_organisation("Bench")
    viewers: dict = {}
    statuses = [Status.CREATED] * 2 + [Status.ASSIGNED] * 3 + [Status.IN_PROGRESS] * 4 + [Status.WAITING] * 1
    measured: list[int] = []
    for code in ("home", "beauty"):
        unit = account_actions.create_business_unit(code=code, name=code)
        agents = [
            account_actions.create_user(
                username=f"{code}_agent{n}", password=None, role=Role.SERVICE_AGENT, units=[unit]
            )
            for n in range(AGENTS)
        ]
        account_actions.create_user(username=f"{code}_head", password=None, role=Role.UNIT_HEAD, units=[unit])
        if code == "home":
            viewers = {"agent": agents[0]}
        batch: list = []
        for n in range(scale):
            created = now - timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60))
            is_open = n % 10 == 0
            status = rng.choice(statuses) if is_open else Status.CLOSED
            if is_open:
                created = now - timedelta(minutes=rng.randint(0, 20 * 24 * 60))
            elif n % 10 == 5:  # resolved in the last days, not archived yet
                status, created = Status.RESOLVED, now - timedelta(minutes=rng.randint(600, 5 * 24 * 60))
            assignee = None if status == Status.CREATED else rng.choice(agents)
            # 1% of the open clocks are past due, 1% due within the hour, the rest later.
            due_offset = rng.choice([-30] + [30] + [600 + rng.randint(0, 5000) for _ in range(98)])
            batch.append(
                Ticket(
                    unit=unit,
                    subject=f"ticket {code} {n}",
                    ticket_type=rng.choice(("inquiry", "complaint", "after_sales", "suggestion")),
                    priority=rng.choice(("low", "normal", "normal", "high", "urgent")),
                    channel=rng.choice(("phone", "email", "chat", "wechat")),
                    status=status,
                    assignee=assignee,
                    created_at=created,
                    updated_at=created,
                    assigned_at=created if assignee else None,
                    first_response_at=None
                    if is_open and status != Status.WAITING
                    else created + timedelta(minutes=20),
                    resolved_at=None if is_open else created + timedelta(hours=5),
                    closed_at=created + timedelta(days=2) if status == Status.CLOSED else None,
                    first_response_due=(now + timedelta(minutes=due_offset))
                    if is_open
                    else created + timedelta(hours=1),
                    resolution_due=(now + timedelta(minutes=due_offset + 480))
                    if is_open
                    else created + timedelta(hours=8),
                    paused_at=now if status == Status.WAITING else None,
                )
            )
            if len(batch) == 5000:
                Ticket.objects.bulk_create(batch)
                batch = []
        Ticket.objects.bulk_create(batch)
    sample = list(
        Ticket.objects.filter(unit__code="home", assignee=viewers["agent"])
        .order_by("-pk")
        .values_list("pk", flat=True)[:5]
    )
    for pk in sample:
        TicketEvent.objects.bulk_create(
            TicketEvent(
                ticket_id=pk,
                kind=("inbound", "reply", "note", "status")[i % 4],
                actor=viewers["agent"],
                body=f"entry {i}",
                data={"old": "assigned", "new": "in_progress"},
                created_at=now,
            )
            for i in range(20)
        )
        measured.append(pk)
    refresh_planner_statistics()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    viewers["tickets"] = measured
    return viewers


def _naive(user, page: str, ticket_id: int) -> None:
    from django.core.paginator import Paginator

    from guanxi.service.models import OPEN_STATUSES, Ticket, TicketEvent

    if page == "inbox":
        rows = list(Ticket.objects.restrict(user, "view").filter(status__in=OPEN_STATUSES))
        sorted(rows, key=lambda t: (t.resolution_due is None, t.resolution_due))
        return
    if page == "ticket page":
        for event in TicketEvent.objects.filter(ticket_id=ticket_id):
            _ = event.actor.username if event.actor_id else ""
        return
    rows = Ticket.objects.restrict(user, "view").select_related("assignee").order_by("-created_at", "-pk")
    list(Paginator(rows, 50).page(1))


def _scan(now) -> dict:
    """The product's scan, then the naive one (every open ticket, its minutes left computed in Python)."""
    from guanxi.service import actions
    from guanxi.service.models import OPEN_STATUSES, Ticket

    open_count = Ticket.objects.filter(status__in=OPEN_STATUSES).count()
    begun = time.perf_counter()
    result = actions.scan_sla(now=now)
    seconds = time.perf_counter() - begun
    begun = time.perf_counter()
    calendars: dict = {}
    flagged = 0
    for ticket in (
        Ticket.objects.filter(status__in=OPEN_STATUSES).select_related("unit").iterator(chunk_size=5000)
    ):
        if ticket.unit_id not in calendars:
            calendars[ticket.unit_id] = actions.calendar_for(ticket.unit)
        due = ticket.first_response_due if ticket.first_response_at is None else ticket.resolution_due
        if ticket.paused_at is None and due is not None:
            flagged += calendars[ticket.unit_id].business_minutes_between(now, due) <= 60
    naive_seconds = time.perf_counter() - begun
    return {
        "seconds": seconds,
        "naive_seconds": naive_seconds,
        "breaches": result.breaches,
        "warnings": result.warnings,
        "open": open_count,
    }


def _child(scale: int) -> dict:
    start_django(fresh=True)
    from django.test import Client
    from django.utils import timezone

    started = time.perf_counter()
    built = _build(scale)
    build_seconds = time.perf_counter() - started
    user, ticket_id = built["agent"], built["tickets"][0]
    pages = {
        "inbox": "/service/",
        "ticket list": "/service/tickets/",
        "ticket page": f"/service/tickets/{ticket_id}/",
        "tickets API": "/api/v1/service/tickets",
    }
    client = Client()
    client.force_login(user)
    results: dict = {}
    for page, url in pages.items():
        assert client.get(url).status_code == 200, url
        timings, naive = [], []
        for _round in range(ROUNDS):
            begun = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - begun)
            assert response.status_code == 200
        for _round in range(min(ROUNDS, 5)):
            begun = time.perf_counter()
            _naive(user, page, ticket_id)
            naive.append(time.perf_counter() - begun)
        results[page] = {"page": timings, "naive": naive}
    from guanxi.service.models import OPEN_STATUSES, Ticket

    return {
        "build_seconds": build_seconds,
        "pages": results,
        "open": Ticket.objects.filter(status__in=OPEN_STATUSES).count(),
        "scan": _scan(timezone.now()),
        "load": os.getloadavg()[0],
    }


if __name__ == "__main__" and sys.argv[1:2] == ["--measure"]:
    print(json.dumps(_child(int(sys.argv[2]))))
elif __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
