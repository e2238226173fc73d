"""Reliability drills: a marketing send run by real `guanxi worker` processes that are killed with
SIGKILL while they send, checked message by message against the fake gateway's ledger.

Used by the test suite (a few thousand messages, a kill every few seconds) and by
`guanxi bench messaging-crash` (10,000 messages, a kill every 20 seconds: reliability.md MS-1/MS-2).
Several schedulers queue the same send at once (MS-3: the send key makes that harmless). The
database is the one named by `database_url`: a PostgreSQL database that exists and is migrated, or a
SQLite file that the drill migrates first.
"""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from guanxi.messaging import fake_gateways as fakes

SEND_KEY = "drill:promo"

SETUP = """
import json, random, sys
import django
django.setup()
from django.db import transaction
from guanxi.accounts import actions as accounts
from guanxi.customers.models import Consent, Customer, CustomerUnit, Identity
from guanxi.messaging import actions
args = json.loads(sys.argv[1])
accounts.ensure_organisation("Drill")
unit = accounts.create_business_unit(code="drill", name="Drill")
actions.save_channel(unit=unit, name="sms", kind="sms_http", values={
    "url": args["url"], "api_key": args["api_key"], "honours_idempotency_key": args["idempotent"]})
actions.save_template(key="promo", name="Promo", medium="sms", purpose="marketing", unit=unit,
    contents={"zh-hans": {"body": "{{ customer.name }}，会员日 8 折。回复TD退订"}})
import datetime
actions.save_policy(unit, quiet_start=datetime.time(0), quiet_end=datetime.time(0), daily_cap=1000, weekly_cap=1000)
rng = random.Random(args["seed"])
from guanxi.customers.identities import normalise_phone
phones = set()
while len(phones) < args["messages"]:
    phone = normalise_phone("1" + rng.choice("35789") + "".join(rng.choice("0123456789") for _ in range(9)))
    if phone:
        phones.add(phone)
with transaction.atomic():
    customers = Customer.objects.bulk_create([Customer(name=f"顾客{i}") for i in range(len(phones))])
    CustomerUnit.objects.bulk_create([CustomerUnit(customer=c, unit=unit) for c in customers])
    Identity.objects.bulk_create([Identity(customer=c, kind="phone", value=p, source="drill")
                                  for c, p in zip(customers, sorted(phones))])
    # Every tenth customer never answered the consent request: no evidence, no marketing.
    Consent.objects.bulk_create([Consent(customer=c, channel="sms", state="granted", method="double_opt_in",
                                         source="drill") for i, c in enumerate(customers) if i % 10 != 9])
"""

SCHEDULE = """
import sys
import django
django.setup()
from guanxi.accounts.models import BusinessUnit
from guanxi.customers.models import Customer
from guanxi.messaging import actions
unit = BusinessUnit.objects.get(code="drill")
ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
target = int(sys.argv[1])
if not target:
    actions.enqueue_many(unit=unit, customer_ids=ids, purpose="marketing", send_key="drill:promo", template="promo",
                         channel="sms", source="drill")
else:
    # The opt-out drill: the first customer gets one message between every slice of the campaign.
    person = Customer.objects.get(pk=ids[0])
    step = max(1, len(ids) // target)
    for number, start in enumerate(range(1, len(ids), step)):
        actions.enqueue_message(unit=unit, customer=person, purpose="marketing", send_key=f"drill:target:{number}",
                                template="promo", channel="sms", source="drill")
        actions.enqueue_many(unit=unit, customer_ids=ids[start:start + step], purpose="marketing",
                             send_key="drill:promo", template="promo", channel="sms", source="drill")
"""

# Started with the workers and ready before the reply is due (a loaded machine takes seconds to start
# Django), it replies when told to on stdin.
OPT_OUT = """
import sys
import time
import django
django.setup()
from guanxi.customers.models import Customer, Identity
from guanxi.messaging import actions
from guanxi.messaging.models import ChannelAccount
person = Customer.objects.order_by("pk").first()
phone = Identity.objects.get(customer=person, kind="phone").value
channel = ChannelAccount.objects.get()
sys.stdin.readline()
actions.record_inbound(channel, provider_id="drill-reply", sender=phone, text="TD")
print(time.time())
"""


@dataclass
class DrillResult:
    messages: int
    kills: int
    seconds: float
    states: Counter
    ledger: Counter  # send key -> deliveries
    rows: dict[str, str] = field(default_factory=dict)  # send key -> state
    details: dict[str, tuple] = field(default_factory=dict)  # send key -> (state, reason, started, customer)
    consent: list[tuple] = field(default_factory=list)  # (customer, state, recorded) of SMS consent
    received: dict[str, float] = field(default_factory=dict)  # send key -> when the gateway took it
    opted_out_at: float | None = None

    def consent_at(self, customer: int, moment: float) -> str:
        """The customer's SMS consent state in force at `moment` ("" when none)."""
        before = [
            (recorded, state)
            for who, state, recorded in self.consent
            if who == customer and recorded <= moment
        ]
        return max(before)[1] if before else ""

    @property
    def delivered_keys(self) -> int:
        return len(self.ledger)

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.ledger.values() if count > 1)

    @property
    def lost(self) -> list[str]:
        """Messages neither delivered nor recorded as anything but pending."""
        return [key for key, state in self.rows.items() if state in ("queued", "held", "sending")]


class _Database:
    """Plain DB-API access to the drill's database, whatever this process's Django points at."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")

    def query(self, sql: str) -> list[tuple]:
        if self.sqlite:
            with sqlite3.connect(urlsplit(self.url).path, timeout=30) as connection:
                return connection.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.url) as connection:
            return connection.execute(sql).fetchall()  # type: ignore[arg-type]


def _environment(database_url: str, home: Path, secret_key: str, lease_seconds: int) -> dict[str, str]:
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
        "GUANXI_ALLOW_PRIVATE_GATEWAYS": "1",
        "GUANXI_MESSAGING_LEASE_SECONDS": str(lease_seconds),
        "HUEY_LOG_LEVEL": "WARNING",
        "LOG_LEVEL": "ERROR",
    }


def _run(script: str, environment: dict[str, str], *args: str, timeout: int = 600) -> None:
    done = subprocess.run(  # noqa: S603 (our own interpreter and scripts)
        [sys.executable, "-c", script, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"drill step failed: {done.stderr[-2000:]}")


def run_drill(
    *,
    database_url: str,
    home: Path,
    secret_key: str,
    messages: int,
    workers: int = 3,
    schedulers: int = 2,
    kill_every: float = 0.0,
    idempotent: bool = True,
    latency: float = 0.01,
    lease_seconds: int = 3,
    timeout: float = 900,
    seed: int = 2026,
    opt_out_after: int = 0,
    target_messages: int = 0,
) -> DrillResult:
    """Set up a unit, a channel and `messages` consenting customers; let `schedulers` processes queue
    the same send while `workers` worker processes send it, killing one (SIGKILL) every `kill_every`
    seconds and starting it again; return the outbox's states and the gateway's ledger. With
    `target_messages`, the first customer also gets that many messages spread through the send, and
    replies "TD" once the gateway has taken `opt_out_after` messages (MS-6)."""
    environment = _environment(database_url, home, secret_key, lease_seconds)
    database = _Database(database_url)
    if database.sqlite and not Path(urlsplit(database_url).path).exists():
        migrated = subprocess.run(
            [sys.executable, "-m", "guanxi", "migrate"],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if migrated.returncode != 0:
            raise RuntimeError(migrated.stderr[-2000:])
    gateways = fakes.Gateways(
        smtp_port=None, idempotent_sms=idempotent, faults=fakes.Faults(latency=latency)
    ).start()
    rng = random.Random(seed)  # noqa: S311 (which worker dies is not a secret)
    processes: list[subprocess.Popen] = []
    replier: subprocess.Popen | None = None
    kills = 0
    started = time.monotonic()
    try:
        _run(
            SETUP,
            environment,
            json.dumps(
                {
                    "url": gateways.url("/sms/send"),
                    "api_key": fakes.SMS_API_KEY,
                    "idempotent": idempotent,
                    "messages": messages,
                    "seed": seed,
                }
            ),
        )

        log = (home / "workers.log").open("ab")

        def start_worker() -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, "-m", "guanxi", "worker"], env=environment, stdout=log, stderr=log
            )

        processes = [start_worker() for _worker in range(workers)]
        born = [time.monotonic()] * workers
        scheduling = [
            subprocess.Popen(  # noqa: S603
                [sys.executable, "-c", SCHEDULE, str(target_messages)],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _scheduler in range(schedulers)
        ]
        replier = (
            subprocess.Popen(  # noqa: S603
                [sys.executable, "-c", OPT_OUT],
                env=environment,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            if opt_out_after
            else None
        )
        next_kill = time.monotonic() + kill_every if kill_every else float("inf")
        opted_out_at = None
        while True:
            if replier and opted_out_at is None and len(gateways.ledger.entries) >= opt_out_after:
                out, errors = replier.communicate("reply\n", timeout=120)
                if replier.returncode:
                    raise RuntimeError(errors[-2000:])
                opted_out_at = float(out.strip().splitlines()[-1])
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"the drill did not finish in {timeout} s: {_states(database)}")
            time.sleep(0.5)
            # A victim has lived at least one interval: on a loaded machine Django's start-up alone can
            # take longer, and a worker killed before it sends anything proves nothing.
            grown = [index for index, birth in enumerate(born) if time.monotonic() - birth >= kill_every]
            if time.monotonic() >= next_kill and grown:
                victim = rng.choice(grown)
                os.kill(processes[victim].pid, signal.SIGKILL)
                processes[victim].wait()
                kills += 1
                processes[victim] = start_worker()
                born[victim] = time.monotonic()
                next_kill = time.monotonic() + kill_every
            if any(process.poll() is None for process in scheduling):
                continue
            states = _states(database)
            # With a target, the campaign leaves them out and they get their own messages instead.
            extra = len(range(1, messages, max(1, messages // target_messages))) - 1 if target_messages else 0
            expected = messages + extra
            if sum(states.values()) == expected and not any(states[s] for s in ("queued", "held", "sending")):
                break
        for process in scheduling:
            if process.returncode:
                raise RuntimeError(
                    f"a scheduler failed: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
                )
    finally:
        if replier is not None and replier.poll() is None:
            replier.kill()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        gateways.stop()
    rows = dict(database.query("SELECT send_key, state FROM messaging_message"))
    details = {
        key: (state, reason, _instant(started), customer)
        for key, state, reason, started, customer in database.query(
            "SELECT send_key, state, reason, started_at, customer_id FROM messaging_message"
        )
    }
    consent = [
        (customer, state, _instant(recorded))
        for customer, state, recorded in database.query(
            "SELECT customer_id, state, recorded_at FROM customers_consent WHERE channel = 'sms'"
        )
    ]
    return DrillResult(
        messages=messages,
        kills=kills,
        seconds=time.monotonic() - started,
        states=Counter(rows.values()),
        ledger=gateways.ledger.keys("sms"),
        rows=rows,
        details=details,
        consent=consent,
        received={entry.key: entry.received_at for entry in gateways.ledger.of("sms")},
        opted_out_at=opted_out_at,
    )


def _instant(value: object) -> float | None:
    """A timestamp column as epoch seconds, from either driver."""
    if value is None:
        return None
    if isinstance(value, str):
        from datetime import UTC, datetime

        moment = datetime.fromisoformat(value)
        value = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value.timestamp()  # type: ignore[attr-defined]


def _states(database: _Database) -> Counter:
    return Counter(dict(database.query("SELECT state, COUNT(*) FROM messaging_message GROUP BY state")))
