"""Webhook ingestion drills (reliability.md IN-1, IN-2, IN-4, IN-7): a fake Shopify that signs, re-sends,
shuffles and retries, against a real `guanxi serve` and `guanxi worker` on loopback, checked against the
sender's own ledger once the inbox is drained.

Used by the test suite (a few hundred events) and by `guanxi bench webhooks` (10,000 events, minutes of
sustained load, a PostgreSQL restart). The database is the one named by `database_url`: a PostgreSQL
database that exists (empty or migrated), or a SQLite file; the drill migrates it. Every step is bounded
by a timeout, so a drill always stops by itself.
"""

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SOURCE = "shopify:drill"
SECRET = "drill-webhook-secret-0123456789"  # noqa: S105 (the drill's own fake store)

SETUP = """
import sys
import django
django.setup()
from guanxi.accounts import actions as accounts
from guanxi.commerce.actions import create_store, set_webhook_secret
from guanxi.commerce.models import Store
if Store.objects.filter(source=sys.argv[1]).exists():
    sys.exit(0)  # made by an earlier run on this database
accounts.ensure_organisation("Drill")
unit = accounts.create_business_unit(code="drill", name="Drill")
store = create_store(unit=unit, name="Drill", channel="shopify", source=sys.argv[1], currency="CNY")
set_webhook_secret(store, sys.argv[2])
"""


def shopify_order(number: int, version: int, updated_at: datetime) -> dict[str, Any]:
    """Order `number` as Shopify sends it in its `version`-th state: the total and status move with the version."""
    placed = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=number)
    return {
        "id": 7_000_000 + number,
        "name": f"#D{number}",
        "email": f"buyer{number % 997}@drill.example",
        "created_at": placed.isoformat(),
        "processed_at": placed.isoformat(),
        "updated_at": updated_at.isoformat(),
        "currency": "CNY",
        "financial_status": ("pending", "paid", "refunded")[min(version, 2)] if version < 3 else "paid",
        "total_price": f"{100 + number % 50 + version}.00",
        "total_refunded": "0.00",
        "customer": {"id": 9_000_000 + number % 997, "email": f"buyer{number % 997}@drill.example"},
        "line_items": [{"id": 1, "sku": "DRILL-1", "title": "Drill", "quantity": 1, "price": "100.00"}],
        "refunds": [],
    }


@dataclass(frozen=True)
class Send:
    event_id: str
    topic: str
    body: bytes


@dataclass
class Ledger:
    """What the sender saw: per event id, whether it was acknowledged (2xx), and every answer."""

    accepted: set[str] = field(default_factory=set)
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    given_up: set[str] = field(default_factory=set)
    locked_answers: int = 0
    down_statuses: Counter = field(default_factory=Counter)  # answers while the database was down
    lock: threading.Lock = field(default_factory=threading.Lock)

    def p95_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(len(ordered) * 0.95) - 1] * 1000 if ordered else 0.0


class FakeShopify:
    """Signs like Shopify (base64 HMAC-SHA256 of the raw body), sends on `connections` keep-alive
    connections, and retries what was not acknowledged (5xx, refused, timed out) with a backoff, with the
    original body, as Shopify does, until `give_up_after` seconds."""

    def __init__(self, port: int, secret: str = SECRET, give_up_after: float = 120.0) -> None:
        self.port = port
        self.secret = secret
        self.give_up_after = give_up_after
        self.ledger = Ledger()
        self.database_down = threading.Event()

    def headers(self, send: Send) -> dict[str, str]:
        signature = base64.b64encode(hmac.new(self.secret.encode(), send.body, hashlib.sha256).digest())
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": send.topic,
            "X-Shopify-Event-Id": send.event_id,
            "X-Shopify-Hmac-Sha256": signature.decode(),
            "X-Shopify-Shop-Domain": "drill.myshopify.com",
        }

    def deliver(self, connection: list[http.client.HTTPConnection], send: Send) -> None:
        started = time.monotonic()
        delay = 0.1
        while True:
            status, text = self._post(connection, send)
            latency = time.monotonic() - started
            with self.ledger.lock:
                self.ledger.statuses[status] += 1
                if "database is locked" in text:
                    self.ledger.locked_answers += 1
                if self.database_down.is_set():
                    self.ledger.down_statuses[status] += 1
                if 200 <= status < 300:
                    self.ledger.accepted.add(send.event_id)
                    self.ledger.latencies.append(latency)
                    return
            if 400 <= status < 500 or time.monotonic() - started > self.give_up_after:
                with self.ledger.lock:
                    self.ledger.given_up.add(send.event_id)
                return
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _post(self, holder: list[http.client.HTTPConnection], send: Send) -> tuple[int, str]:
        try:
            if not holder:
                holder.append(http.client.HTTPConnection("127.0.0.1", self.port, timeout=10))
            holder[0].request(
                "POST", f"/webhooks/shopify/{SOURCE}", body=send.body, headers=self.headers(send)
            )
            response = holder[0].getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            if holder:
                holder[0].close()
                holder.clear()
            return 0, ""  # refused or timed out: not acknowledged, so retried

    def send_all(self, sends: list[Send], connections: int) -> None:
        """Send everything as fast as `connections` allow."""
        queue = list(reversed(sends))
        lock = threading.Lock()

        def work() -> None:
            holder: list[http.client.HTTPConnection] = []
            while True:
                with lock:
                    if not queue:
                        return
                    send = queue.pop()
                self.deliver(holder, send)

        _run_threads(work, connections)

    def send_paced(self, make: Callable[[int], Send], rate: float, seconds: float, connections: int) -> int:
        """Send `rate` new events a second for `seconds` (open loop: a slow answer does not slow the
        schedule while a connection is free); how many were sent."""
        start = time.monotonic()
        total = int(rate * seconds)
        counter = iter(range(total))
        lock = threading.Lock()

        def work() -> None:
            holder: list[http.client.HTTPConnection] = []
            while True:
                with lock:
                    number = next(counter, None)
                if number is None:
                    return
                due = start + number / rate
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self.deliver(holder, make(number))

        _run_threads(work, connections)
        return total


def _run_threads(target: Callable[[], None], count: int) -> None:
    threads = [threading.Thread(target=target, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --- scenarios -----------------------------------------------------------------------------------


def duplicate_sends(orders: int, resend_share: float, seed: int) -> list[Send]:
    """IN-1: one `orders/create` per order; `resend_share` of them sent 1–3 more times (same event id),
    all shuffled so copies travel concurrently."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible drill, not a secret)
    base = datetime(2026, 3, 1, tzinfo=UTC)
    originals = [
        Send(
            f"create-{n}",
            "orders/create",
            json.dumps(shopify_order(n, 0, base + timedelta(seconds=n))).encode(),
        )
        for n in range(orders)
    ]
    copies = [send for send in originals if rng.random() < resend_share for _ in range(rng.randint(1, 3))]
    sends = originals + copies
    rng.shuffle(sends)
    return sends


def shuffled_updates(orders: int, versions: int, seed: int) -> tuple[list[Send], dict[str, tuple[str, str]]]:
    """IN-2: each order's create and `versions - 1` updates, every one shuffled; the oracle is each
    order's (total, financial status) at its newest `updated_at`."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible drill, not a secret)
    base = datetime(2026, 3, 1, tzinfo=UTC)
    sends, oracle = [], {}
    for n in range(orders):
        for version in range(versions):
            updated = base + timedelta(seconds=n, minutes=version)
            data = shopify_order(n, version, updated)
            topic = "orders/create" if version == 0 else "orders/updated"
            sends.append(Send(f"o{n}-v{version}", topic, json.dumps(data).encode()))
        oracle[str(data["id"])] = (data["total_price"], data["financial_status"])
    rng.shuffle(sends)
    return sends, oracle


def load_event(number: int) -> Send:
    now = datetime.now(UTC)
    data = shopify_order(1_000_000 + number, 1, now)
    return Send(f"load-{number}", "orders/create", json.dumps(data).encode())


# --- the processes ----------------------------------------------------------------------------------


class Database:
    """Plain DB-API access to the drill's database, whatever this process's Django points at."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")

    def query(self, sql: str) -> list[tuple]:
        if self.sqlite:
            with sqlite3.connect(urlsplit(self.url).path, timeout=30) as connection:
                return connection.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.url, connect_timeout=5) as connection:
            return connection.execute(sql).fetchall()  # type: ignore[arg-type]

    def value(self, sql: str) -> Any:
        return self.query(sql)[0][0]


def environment(database_url: str, home: Path, secret_key: str) -> dict[str, str]:
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST", "DJANGO_", "REDIS_URL", "TEST_DATABASE", "GUANXI_"))
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "guanxi.config.settings",
        "DATABASE_URL": database_url,
        "GUANXI_HOME": str(home),
        "SECRET_KEY": secret_key,
        "HUEY_LOG_LEVEL": "WARNING",
        "LOG_LEVEL": "ERROR",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Stack:
    """`guanxi serve` (no worker of its own) and `guanxi worker`, on one database."""

    port: int
    processes: list[subprocess.Popen]
    log: Path

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def start_stack(
    database_url: str,
    home: Path,
    secret_key: str,
    *,
    threads: int = 8,
    migrate: bool = True,
    timeout: float = 300,
) -> Stack:
    env = environment(database_url, home, secret_key)
    for step in [["migrate"]] if migrate else []:
        done = subprocess.run(  # noqa: S603 (our own interpreter)
            [sys.executable, "-m", "guanxi", *step], env=env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"drill: migrate failed: {done.stderr[-2000:]}")
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SETUP, SOURCE, SECRET],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"drill: set-up failed: {done.stderr[-2000:]}")
    port = free_port()
    log = home / "drill-processes.log"
    output = log.open("ab")
    serve = [
        sys.executable,
        "-m",
        "guanxi",
        "serve",
        "--no-with-worker",
        "--port",
        str(port),
        "--threads",
        str(threads),
    ]
    processes = [
        subprocess.Popen(serve, env=env, stdout=output, stderr=subprocess.STDOUT),  # noqa: S603
        subprocess.Popen(
            [sys.executable, "-m", "guanxi", "worker"], env=env, stdout=output, stderr=subprocess.STDOUT
        ),
    ]
    stack = Stack(port, processes, log)
    if wait_healthy(port, timeout) is None:
        stack.stop()
        raise RuntimeError(
            f"drill: the server did not answer within {timeout:.0f} s: {log.read_text()[-2000:]}"
        )
    return stack


def health(port: int) -> int:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/webhooks/health")
        status = connection.getresponse().status
        connection.close()
        return status
    except (OSError, http.client.HTTPException):
        return 0


def wait_healthy(port: int, timeout: float) -> float | None:
    """Seconds until /webhooks/health answers 200; None after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if health(port) == 200:
            return time.monotonic() - start
        time.sleep(0.25)
    return None


def wait_drained(database: Database, timeout: float) -> float:
    """Seconds until the inbox is empty; RuntimeError after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        with contextlib.suppress(Exception):  # the database may be restarting: look again
            if database.value("SELECT COUNT(*) FROM commerce_webhookinbox") == 0:
                return time.monotonic() - start
        time.sleep(0.5)
    raise RuntimeError(f"drill: the inbox was not drained within {timeout:.0f} s")


@dataclass
class Outcome:
    sent: int
    ledger: Ledger
    seconds: float
    drain_seconds: float
    deliveries: int
    orders: int
    orders_created: int  # by the audit entries of the applied batches: the side effects
    orders_updated: int
    states: dict[str, tuple[str, str]]  # external id -> (total, financial status)
    delivery_statuses: dict[str, int]
    accepted_not_recorded: list[str]
    healthy_after: float | None = None
    restart_seconds: float | None = None

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def collect(database: Database, ledger: Ledger, sent: int, seconds: float, drain_seconds: float) -> Outcome:
    events = {row[0] for row in database.query("SELECT event_id FROM commerce_webhookdelivery")}
    states = {
        str(external_id): (f"{Decimal(str(total)):.2f}", _financial_status(attributes))
        for external_id, total, attributes in database.query(
            f"SELECT external_id, total_amount, attributes FROM commerce_order WHERE source = '{SOURCE}'"  # noqa: S608 (a constant)
        )
    }
    field_of = (
        (lambda name: f"json_extract(message_params, '$.{name}')")
        if database.sqlite
        else (lambda name: f"(message_params->>'{name}')::int")
    )
    created, updated = database.query(
        f"SELECT COALESCE(SUM({field_of('created')}), 0), COALESCE(SUM({field_of('updated')}), 0) "  # noqa: S608 (constants)
        "FROM core_auditentry WHERE object_type = 'commerce.order'"
    )[0]
    return Outcome(
        sent=sent,
        ledger=ledger,
        seconds=seconds,
        drain_seconds=drain_seconds,
        deliveries=len(events),
        orders=len(states),
        orders_created=created,
        orders_updated=updated,
        states=states,
        delivery_statuses=dict(
            database.query("SELECT status, COUNT(*) FROM commerce_webhookdelivery GROUP BY status")
        ),
        accepted_not_recorded=sorted(ledger.accepted - events),
    )


def _financial_status(attributes: Any) -> str:
    if isinstance(attributes, str):  # SQLite hands JSON back as text
        attributes = json.loads(attributes or "{}")
    return str((attributes or {}).get("financial_status", ""))


def run_sends(
    database_url: str,
    home: Path,
    secret_key: str,
    sends: list[Send],
    *,
    connections: int = 8,
    migrate: bool = True,
    timeout: float = 600,
) -> Outcome:
    """IN-1 / IN-2: send everything (retrying), wait for the worker, read the result."""
    stack = start_stack(database_url, home, secret_key, migrate=migrate)
    try:
        sender = FakeShopify(stack.port)
        start = time.monotonic()
        sender.send_all(sends, connections)
        seconds = time.monotonic() - start
        drain_seconds = wait_drained(Database(database_url), timeout)
    finally:
        stack.stop()
    return collect(Database(database_url), sender.ledger, len(sends), seconds, drain_seconds)


def run_load(
    database_url: str,
    home: Path,
    secret_key: str,
    *,
    rate: float,
    seconds: float,
    connections: int = 16,
    restart: list[str] | None = None,
    restart_at: float | None = None,
    timeout: float = 900,
) -> Outcome:
    """IN-4 (and IN-7 with `restart`): `rate` new events a second for `seconds`; with `restart`, that
    command (restarting PostgreSQL) runs at `restart_at` seconds and the health endpoint is timed."""
    stack = start_stack(database_url, home, secret_key)
    restart_report: dict[str, float | None] = {}
    try:
        sender = FakeShopify(stack.port, give_up_after=max(120.0, seconds))
        restarter = None
        if restart:

            def do_restart() -> None:
                time.sleep(restart_at or seconds / 2)
                sender.database_down.set()
                began = time.monotonic()
                subprocess.run(restart, capture_output=True, timeout=120, check=False)  # noqa: S603 (given by the bench)
                restart_report["restart_seconds"] = time.monotonic() - began
                restart_report["healthy_after"] = wait_healthy(stack.port, 120)
                sender.database_down.clear()

            restarter = threading.Thread(target=do_restart, daemon=True)
            restarter.start()
        start = time.monotonic()
        sent = sender.send_paced(load_event, rate, seconds, connections)
        elapsed = time.monotonic() - start
        if restarter is not None:
            restarter.join(timeout=240)
        drain_seconds = wait_drained(Database(database_url), timeout)
    finally:
        stack.stop()
    outcome = collect(Database(database_url), sender.ledger, sent, elapsed, drain_seconds)
    outcome.healthy_after = restart_report.get("healthy_after")
    outcome.restart_seconds = restart_report.get("restart_seconds")
    return outcome
