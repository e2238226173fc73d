"""The flow engine: enrol customers when a trigger happens, run due steps, resume what a dead worker
left (ADR 0037).

Triggers about orders, returns and events come from the customer change feed, which marketing follows
as its own reader (`CHANGE_READER`): for each customer the feed names, the active flows look for
trigger occurrences (an order placed since the flow went live, …) and enrol one row per occurrence
— UNIQUE (flow, customer, trigger key), so reading the same change twice enrols once. Triggers whose
sources do not write the feed (segment entries, tier changes, new members, birthdays and fixed dates)
are found by the periodic `scan`.

Due enrolments are claimed under a lease (`guanxi.core.claims`); each step runs in one transaction
that inserts its `StepRun` (UNIQUE per enrolment and step), does the step's work and moves the
enrolment on. A worker that dies mid-step leaves nothing (the transaction rolls back) and its lease
runs out, so the next pass — any worker — resumes the enrolment at the step it was on.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from guanxi.commerce.models import Event, Order, Return
from guanxi.core.claims import claim
from guanxi.customers import changes
from guanxi.customers.models import Customer, CustomerUnit
from guanxi.marketing import holdout, steps
from guanxi.marketing.models import Enrolment, Flow, StepRun

log = logging.getLogger(__name__)

CHANGE_READER = "marketing"
CHANGES_PER_PASS = 500
MAX_PASSES = 20
STEP_QUEUE = "marketing-steps"
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5
BATCH = 200
ENROL_BATCH = 5000

SHIPPED = [Order.Status.SHIPPED, Order.Status.DELIVERED, Order.Status.COMPLETED]
DELIVERED = [Order.Status.DELIVERED, Order.Status.COMPLETED]
CART_EVENTS = [Event.Kind.ADD_TO_CART, Event.Kind.CHECKOUT_STARTED]


@dataclass(frozen=True)
class Occurrence:
    customer_id: int
    key: str
    at: datetime
    context: dict[str, Any] = field(default_factory=dict)


def active_flows(unit_ids: Iterable[int] | None = None) -> list[Flow]:
    flows = Flow.objects.filter(status=Flow.Status.ACTIVE, current_version__isnull=False).select_related(
        "current_version", "unit"
    )
    if unit_ids is not None:
        flows = flows.filter(unit_id__in=list(unit_ids))
    return list(flows)


# --- triggers ---------------------------------------------------------------------------------------


def occurrences(flow: Flow, customer_ids: list[int] | None, now: datetime) -> list[Occurrence]:
    """The flow's trigger occurrences since it went live, among `customer_ids` (None: everyone)."""
    assert flow.current_version is not None and flow.active_since is not None
    trigger = flow.current_version.definition.get("trigger", {})
    kind = trigger.get("kind")
    since = flow.active_since
    who = Q() if customer_ids is None else Q(customer_id__in=customer_ids)
    found: list[Occurrence] = []
    if kind in ("order_placed", "order_paid", "order_shipped", "order_delivered"):
        orders = Order.objects.filter(who, unit_id=flow.unit_id, customer_id__isnull=False)
        if kind == "order_placed":
            orders = orders.filter(placed_at__gte=since)
            if trigger.get("unpaid_only"):
                orders = orders.filter(status=Order.Status.CREATED, paid_at__isnull=True)
            anchor = "placed_at"
        elif kind == "order_paid":
            orders, anchor = orders.filter(paid_at__gte=since), "paid_at"
        else:
            statuses = SHIPPED if kind == "order_shipped" else DELIVERED
            orders = orders.annotate(changed=Coalesce("source_updated_at", "created_at")).filter(
                status__in=statuses, changed__gte=since
            )
            anchor = "changed"
        for pk, customer_id, moment in orders.values_list("pk", "customer_id", anchor):
            found.append(Occurrence(customer_id, f"{kind}:{pk}", moment or now, {"order_id": pk}))
    elif kind == "order_refunded":
        returns = Return.objects.filter(
            who, unit_id=flow.unit_id, customer_id__isnull=False, created_at__gte=since
        )
        for pk, customer_id, order_id, moment in returns.values_list(
            "pk", "customer_id", "order_id", "created_at"
        ):
            found.append(
                Occurrence(customer_id, f"return:{pk}", moment, {"order_id": order_id, "return_id": pk})
            )
    elif kind in ("cart_abandoned", "event"):
        events = Event.objects.filter(
            who, unit_id=flow.unit_id, customer_id__isnull=False, occurred_at__gte=since
        )
        if kind == "cart_abandoned":
            events = events.filter(kind__in=CART_EVENTS)
        else:
            if trigger.get("event_kind"):
                events = events.filter(kind=trigger["event_kind"])
            if trigger.get("name"):
                events = events.filter(name=trigger["name"])
        seen: set[tuple[int, str]] = set()
        for pk, customer_id, moment, props in events.order_by("occurred_at", "pk").values_list(
            "pk", "customer_id", "occurred_at", "properties"
        ):
            cart = (props or {}).get("cart_id") if kind == "cart_abandoned" else None
            key = f"cart:{cart}" if cart else f"event:{pk}"
            if (customer_id, key) not in seen:
                seen.add((customer_id, key))
                found.append(Occurrence(customer_id, key, moment, {"event_id": pk}))
    elif kind in ("segment_entered", "segment_exited"):
        from guanxi.segments.models import SegmentMembership

        rows = SegmentMembership.objects.filter(who, segment_id=trigger.get("segment"))
        column = "entered_at" if kind == "segment_entered" else "exited_at"
        rows = rows.filter(**{f"{column}__gte": since})
        for pk, customer_id, moment in rows.values_list("pk", "customer_id", column).iterator(
            chunk_size=10000
        ):
            found.append(Occurrence(customer_id, f"{kind}:{pk}", moment))
    elif kind == "tier_changed":
        from guanxi.loyalty.models import TierChange

        upgrades = TierChange.objects.filter(
            who, programme__unit_id=flow.unit_id, reason=TierChange.Reason.UPGRADE, changed_at__gte=since
        )
        for pk, customer_id, moment, tier_id in upgrades.values_list(
            "pk", "customer_id", "changed_at", "to_tier_id"
        ):
            found.append(Occurrence(customer_id, f"tier:{pk}", moment, {"tier_id": tier_id}))
    elif kind == "member_joined":
        from guanxi.loyalty.models import Membership

        joined = Membership.objects.filter(who, programme__unit_id=flow.unit_id, joined_at__gte=since)
        for pk, customer_id, moment in joined.values_list("pk", "customer_id", "joined_at"):
            found.append(Occurrence(customer_id, f"member:{pk}", moment))
    elif kind in ("birthday", "fixed_date"):
        found += _dated(flow, trigger, customer_ids, now)
    return found


def _dated(
    flow: Flow, trigger: dict[str, Any], customer_ids: list[int] | None, now: datetime
) -> list[Occurrence]:
    """Birthdays `offset_days` ahead (negative: after) and a fixed MM-DD, in the unit's time zone: due
    from the start of that local day, once a year."""
    zone = ZoneInfo(flow.unit.time_zone)
    today = now.astimezone(zone).date()
    start = datetime.combine(today, time(0), tzinfo=zone)
    assert flow.active_since is not None
    if start < flow.active_since.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0):
        return []
    customers = Customer.objects.filter(status=Customer.Status.ACTIVE, unit_links__unit_id=flow.unit_id)
    if customer_ids is not None:
        customers = customers.filter(pk__in=customer_ids)
    if trigger["kind"] == "birthday":
        target = today + timedelta(days=int(trigger.get("offset_days", 0)))
        customers = customers.filter(birthday__month=target.month, birthday__day=target.day)
        prefix = f"birthday:{target.year}"
    else:
        month, day = (int(part) for part in str(trigger["month_day"]).split("-"))
        if (today.month, today.day) != (month, day):
            return []
        prefix = f"date:{today.isoformat()}"
        if trigger.get("segment"):
            from guanxi.segments.models import SegmentMembership

            customers = customers.filter(
                pk__in=SegmentMembership.objects.filter(
                    segment_id=trigger["segment"], exited_at__isnull=True
                ).values("customer_id")
            )
    return [Occurrence(pk, prefix, start) for pk in customers.values_list("pk", flat=True).distinct()]


def enrol(flow: Flow, found: list[Occurrence], now: datetime) -> int:
    """One enrolment per new occurrence (existing ones are left as they are); how many were new.

    The holdout share, chosen by a stable hash of flow and customer, and the unit's global holdout
    (`holdout.in_global_holdout`) are enrolled as `holdout` and finished at once: it receives nothing, and is the control the effect report compares with."""
    version = flow.current_version
    assert version is not None
    if not found:
        return 0
    definition = version.definition
    first = steps.first_step(definition)
    ids = sorted({o.customer_id for o in found})
    if flow.reentry != Flow.Reentry.EVERY_TRIGGER:
        blocking = Enrolment.objects.filter(flow=flow, customer_id__in=ids)
        if flow.reentry == Flow.Reentry.NOT_WHILE_ACTIVE:
            blocking = blocking.filter(state=Enrolment.State.ACTIVE)
        taken = set(blocking.values_list("customer_id", flat=True))
        fresh: list[Occurrence] = []
        for occurrence in sorted(found, key=lambda o: (o.at, o.key)):
            if occurrence.customer_id not in taken:
                taken.add(occurrence.customer_id)
                fresh.append(occurrence)
        found = fresh
    live = set(
        Customer.objects.filter(pk__in=ids, status=Customer.Status.ACTIVE).values_list("pk", flat=True)
    )
    rows = []
    everywhere = holdout.global_percent(flow.unit_id)
    for occurrence in found:
        if occurrence.customer_id not in live:
            continue
        held = holdout.is_held_out(
            f"flow:{flow.pk}", occurrence.customer_id, flow.holdout_percent
        ) or holdout.in_global_holdout(flow.unit_id, occurrence.customer_id, everywhere)
        rows.append(
            Enrolment(
                flow=flow,
                version=version,
                unit_id=flow.unit_id,
                customer_id=occurrence.customer_id,
                trigger_key=occurrence.key[:100],
                context={**occurrence.context, "at": occurrence.at.isoformat()},
                state=Enrolment.State.HOLDOUT if held else Enrolment.State.ACTIVE,
                step="" if held else first,
                due_at=None if held else now,
                entered_at=now,
                finished_at=now if held else None,
                available_at=now,
            )
        )
    if not rows:
        return 0
    before = Enrolment.objects.filter(flow=flow).count()
    for start in range(0, len(rows), ENROL_BATCH):
        Enrolment.objects.bulk_create(
            rows[start : start + ENROL_BATCH], ignore_conflicts=True, batch_size=1000
        )
    created = Enrolment.objects.filter(flow=flow).count() - before
    if created:
        wake()
    return created


def enrol_customers(customer_ids: list[int], now: datetime | None = None) -> int:
    """Enrol these customers in every active flow whose trigger happened for them; exit those whose
    exit condition now holds."""
    now = now or timezone.now()
    if not customer_ids:
        return 0
    units = set(CustomerUnit.objects.filter(customer_id__in=customer_ids).values_list("unit_id", flat=True))
    created = 0
    for flow in active_flows(units):
        kind = flow.current_version.definition.get("trigger", {}).get("kind")  # type: ignore[union-attr]
        if kind in steps.SCANNED_TRIGGERS:
            continue
        created += enrol(flow, occurrences(flow, customer_ids, now), now)
    check_exits(customer_ids, now)
    wake_awaiting(customer_ids, now)
    return created


def follow_changes(now: datetime | None = None) -> int:
    """Take marketing's rows of the customer change feed: enrol and exit; how many customers."""
    done = 0
    for _pass in range(MAX_PASSES):
        with changes.taken(CHANGE_READER, CHANGES_PER_PASS) as customer_ids:
            enrol_customers(customer_ids, now)
        if not customer_ids:
            break
        done += len(customer_ids)
    return done


def scan(now: datetime | None = None, flows: list[Flow] | None = None) -> int:
    """The periodic pass for triggers that do not come through the change feed; how many enrolled."""
    now = now or timezone.now()
    created = 0
    for flow in flows if flows is not None else active_flows():
        kind = flow.current_version.definition.get("trigger", {}).get("kind")  # type: ignore[union-attr]
        if kind in ("segment_entered", "segment_exited"):
            created += enrol_segment(flow, now)
        elif kind in steps.SCANNED_TRIGGERS:
            created += enrol(flow, occurrences(flow, None, now), now)
    return created


def enrol_segment(flow: Flow, now: datetime) -> int:
    """Enrol everyone who entered (or left) the trigger's segment since the flow went live, set-based:
    one INSERT … SELECT from the memberships, ON CONFLICT DO NOTHING on the UNIQUE enrolment key, so
    a segment of a million enrols in seconds rather than a row at a time (ADR 0043). The same rows
    as `enrol(flow, occurrences(...))` would write: one per membership row, re-entry rules applied,
    active customers only, the holdout share by the same hash.

    The holdout (the flow's, and the unit's global one) is the hash of the customer id (`holdout.py`, sha256, which SQLite cannot compute):
    the new rows come back from RETURNING, the held-out share is picked in Python and finished in
    a few UPDATEs, in the same transaction, so no worker ever sees a held-out enrolment as active."""
    from guanxi.segments.models import SegmentMembership

    version = flow.current_version
    assert version is not None and flow.active_since is not None
    trigger = version.definition["trigger"]
    kind = trigger["kind"]
    column = "entered_at" if kind == "segment_entered" else "exited_at"
    ops = connection.ops
    if connection.vendor == "postgresql":
        context = f"jsonb_build_object('at', m.{column})"
    else:  # SQLite keeps UTC datetimes as naive text: make them ISO 8601 with the offset
        context = f"json_object('at', replace(m.{column}, ' ', 'T') || '+00:00')"
    since = ops.adapt_datetimefield_value(flow.active_since)
    moment = ops.adapt_datetimefield_value(now)
    where = [f"m.segment_id = %s AND m.{column} >= %s AND c.status = %s"]
    params: list[Any] = [trigger["segment"], since, Customer.Status.ACTIVE]
    if flow.reentry != Flow.Reentry.EVERY_TRIGGER:
        # One enrolment per customer: the earliest occurrence, and none for a customer already in.
        where.append(
            f"m.id IN (SELECT MIN(o.id) FROM {SegmentMembership._meta.db_table} o"  # noqa: S608
            f" WHERE o.segment_id = %s AND o.{column} >= %s GROUP BY o.customer_id)"
        )
        params += [trigger["segment"], since]
        blocking = "e.flow_id = %s AND e.customer_id = m.customer_id"
        params.append(flow.pk)
        if flow.reentry == Flow.Reentry.NOT_WHILE_ACTIVE:
            blocking += " AND e.state = %s"
            params.append(Enrolment.State.ACTIVE)
        where.append(f"NOT EXISTS (SELECT 1 FROM {Enrolment._meta.db_table} e WHERE {blocking})")  # noqa: S608
    # Only table and column names are formatted in (from the models); every value is a parameter.
    sql = (
        f"INSERT INTO {Enrolment._meta.db_table} (flow_id, version_id, unit_id, customer_id, trigger_key,"  # noqa: S608
        " context, state, step, due_at, variant, entered_at, exit_reason, available_at, attempts, last_error)"
        f" SELECT %s, %s, %s, m.customer_id, %s || m.id, {context}, %s, %s, %s, '', %s, '', %s, 0, ''"
        f" FROM {SegmentMembership._meta.db_table} m JOIN {Customer._meta.db_table} c ON c.id = m.customer_id"
        f" WHERE {' AND '.join(where)}"
        " ON CONFLICT DO NOTHING RETURNING id, customer_id"
    )
    head: list[Any] = [flow.pk, version.pk, flow.unit_id, f"{kind}:", Enrolment.State.ACTIVE]
    head += [steps.first_step(version.definition), moment, moment, moment]
    salt = f"flow:{flow.pk}"
    everywhere = holdout.global_percent(flow.unit_id)
    created = 0
    held: list[int] = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, head + params)
        while chunk := cursor.fetchmany(ENROL_BATCH):
            created += len(chunk)
            held += [
                pk
                for pk, customer_id in chunk
                if holdout.is_held_out(salt, customer_id, flow.holdout_percent)
                or holdout.in_global_holdout(flow.unit_id, customer_id, everywhere)
            ]
        for start in range(0, len(held), ENROL_BATCH):
            Enrolment.objects.filter(pk__in=held[start : start + ENROL_BATCH]).update(
                state=Enrolment.State.HOLDOUT, step="", due_at=None, finished_at=now
            )
        if created:
            wake()
    return created


# --- exits and goals --------------------------------------------------------------------------------


def exit_reason(enrolment: Enrolment, definition: dict[str, Any]) -> str:
    """The first of the version's exit conditions that holds now ("" if none)."""
    order_id = (enrolment.context or {}).get("order_id")
    for name in definition.get("exit", []):
        if name == "order_paid":
            if order_id:
                if Order.objects.filter(pk=order_id, paid_at__isnull=False).exists():
                    return name
            elif _ordered_since(enrolment, paid=True):
                return name
        elif (name == "order_placed" and _ordered_since(enrolment)) or (
            name == "order_refunded" and order_id and Return.objects.filter(order_id=order_id).exists()
        ):
            return name
    return ""


def _ordered_since(enrolment: Enrolment, paid: bool = False) -> bool:
    orders = Order.objects.filter(
        customer_id=enrolment.customer_id, unit_id=enrolment.unit_id, placed_at__gt=enrolment.entered_at
    )
    trigger_order = (enrolment.context or {}).get("order_id")
    if trigger_order:
        orders = orders.exclude(pk=trigger_order)
    if paid:
        orders = orders.filter(paid_at__isnull=False)
    return orders.exists()


def check_exits(customer_ids: list[int], now: datetime) -> int:
    """Leave the flows whose exit condition holds for these customers' active enrolments."""
    left = 0
    for enrolment in Enrolment.objects.filter(
        customer_id__in=customer_ids, state=Enrolment.State.ACTIVE
    ).select_related("version"):
        reason = exit_reason(enrolment, enrolment.version.definition)
        if reason:
            left += Enrolment.objects.filter(pk=enrolment.pk, state=Enrolment.State.ACTIVE).update(
                state=Enrolment.State.EXITED, exit_reason=reason, finished_at=now, step="", due_at=None
            )
    return left


# --- running steps ----------------------------------------------------------------------------------


@dataclass
class RunResult:
    steps: int = 0
    finished: int = 0
    failed: int = 0


def wake() -> None:
    """Ask a worker to run due steps after the current transaction commits (best effort; the periodic
    pass runs them anyway)."""
    from guanxi.marketing import tasks

    tasks.wake()


def run_due(now: datetime | None = None, limit: int = BATCH, passes: int = 50) -> RunResult:
    """Claim due enrolments and run their steps until each waits or ends."""
    result = RunResult()
    for _pass in range(passes):
        moment = now or timezone.now()
        batch = claim(
            Enrolment.objects.filter(state=Enrolment.State.ACTIVE, due_at__lte=moment),
            queue=STEP_QUEUE,
            limit=limit,
            lease=LEASE,
            max_attempts=MAX_ATTEMPTS,
        )
        held = list(batch.rows().select_related("version", "flow", "unit", "customer"))
        if not held:
            break
        for enrolment in run_batch(held, moment, result):
            try:
                result.steps += advance(enrolment, moment)
            except Exception as error:
                log.warning("flow step failed for enrolment %s: %s", enrolment.pk, type(error).__name__)
                batch.retry(f"{type(error).__name__}: {error}", [enrolment.pk])
                if enrolment.attempts + 1 >= MAX_ATTEMPTS:
                    Enrolment.objects.filter(pk=enrolment.pk).update(
                        state=Enrolment.State.FAILED, finished_at=moment, exit_reason="error"
                    )
                    result.failed += 1
                continue
            if enrolment.state != Enrolment.State.ACTIVE:
                result.finished += 1
        batch.rows().update(claim_token=None, lease_expires_at=None, attempts=0)
    sweep_failed()
    return result


# Steps whose work is a read the batch can do for all its enrolments at once.
BATCHED_KINDS = {"wait", "condition", "split"}
MOVED_FIELDS = ["state", "step", "due_at", "variant", "finished_at", "converted_at"]


def run_batch(held: list[Enrolment], now: datetime, result: RunResult) -> list[Enrolment]:
    """Run the claimed enrolments' waits, conditions and splits together: one read of the segment
    memberships the conditions ask about, then one transaction that inserts every StepRun (UNIQUE per
    enrolment and step) and writes every enrolment (ADR 0043). Returns the enrolments left for
    `advance`, one at a time: those with exit conditions (checked before each step), those now at an
    action step, and — if another worker ran one of these steps meanwhile (its lease ran out under us,
    the UNIQUE refuses the batch) — all of them, as they are in the database."""
    members = _segment_members(held)
    runs: list[StepRun] = []
    moved: list[Enrolment] = []
    rest: list[Enrolment] = []
    for enrolment in held:
        definition = enrolment.version.definition
        if definition.get("exit"):
            rest.append(enrolment)
            continue
        try:
            mine = _walk(enrolment, definition, now, members)
        except Exception:  # leave it to `advance`, which retries it and counts its attempts
            rest.append(enrolment)
            continue
        runs += mine
        if mine or enrolment.state != Enrolment.State.ACTIVE:
            moved.append(enrolment)
        if enrolment.state == Enrolment.State.ACTIVE:
            rest.append(enrolment)
    continuing = {e.pk for e in rest if e.due_at and e.due_at <= now}
    for enrolment in moved:
        if enrolment.pk not in continuing:  # done with this claim: let go of it in the same write
            enrolment.claim_token, enrolment.lease_expires_at, enrolment.attempts = None, None, 0
    try:
        with transaction.atomic():
            StepRun.objects.bulk_create(runs, batch_size=1000)
            Enrolment.objects.bulk_update(
                moved,
                [*MOVED_FIELDS, "claim_token", "lease_expires_at", "attempts"],
                batch_size=500,
            )
    except IntegrityError:
        fresh = Enrolment.objects.filter(pk__in=[e.pk for e in held]).select_related(
            "version", "flow", "unit", "customer"
        )
        return list(fresh)
    result.steps += len(runs)
    result.finished += sum(1 for e in moved if e.state != Enrolment.State.ACTIVE)
    return [e for e in rest if e.pk in continuing]


def _walk(
    enrolment: Enrolment, definition: dict[str, Any], now: datetime, members: set[tuple[int, int]]
) -> list[StepRun]:
    """Move one enrolment through its due batched steps in memory; the StepRuns to write. On an
    error the enrolment is as it was."""
    runs: list[StepRun] = []
    was = (enrolment.state, enrolment.step, enrolment.due_at, enrolment.variant)
    try:
        while enrolment.state == Enrolment.State.ACTIVE and enrolment.due_at and enrolment.due_at <= now:
            if "awaiting" in (enrolment.context or {}):
                break
            step = steps.find(definition, enrolment.step) if enrolment.step != steps.END else None
            if step is None:
                converted = (
                    now if definition.get("goal") == "order_placed" and _ordered_since(enrolment) else None
                )
                enrolment.state, enrolment.finished_at, enrolment.converted_at = (
                    Enrolment.State.COMPLETED,
                    now,
                    converted,
                )
                enrolment.step, enrolment.due_at = "", None
                break
            if step.kind not in BATCHED_KINDS or (
                step.kind == "condition" and not step.params.get("segment")
            ):
                break
            outcome, detail, next_step, due = _perform(enrolment, step, definition, now, members)
            runs.append(
                StepRun(
                    enrolment=enrolment,
                    step=step.id,
                    kind=step.kind,
                    outcome=outcome,
                    detail=detail,
                    ran_at=now,
                )
            )
            if step.kind == "split" and not enrolment.variant:
                enrolment.variant = detail.get("path", "")
            enrolment.step, enrolment.due_at = next_step, due
    except Exception:
        enrolment.state, enrolment.step, enrolment.due_at, enrolment.variant = was
        raise
    return runs


def _segment_members(held: list[Enrolment]) -> set[tuple[int, int]]:
    """(segment, customer) for every current membership the batch's segment conditions ask about."""
    from guanxi.segments.models import SegmentMembership

    segments = {
        int(step.params["segment"])
        for definition in {e.version_id: e.version.definition for e in held}.values()
        for step in steps.steps_of(definition)
        if step.kind == "condition" and step.params.get("segment")
    }
    if not segments:
        return set()
    return set(
        SegmentMembership.objects.filter(
            segment_id__in=segments, customer_id__in={e.customer_id for e in held}, exited_at__isnull=True
        ).values_list("segment_id", "customer_id")
    )


def sweep_failed() -> int:
    """Enrolments whose every attempt failed are marked failed (the claim no longer takes them)."""
    return Enrolment.objects.filter(
        state=Enrolment.State.ACTIVE, attempts__gte=MAX_ATTEMPTS, lease_expires_at__isnull=True
    ).update(state=Enrolment.State.FAILED, exit_reason="error", finished_at=timezone.now())


def advance(enrolment: Enrolment, now: datetime) -> int:
    """Run the enrolment's steps from where it is until it waits or ends; how many steps ran."""
    definition = enrolment.version.definition
    ran = 0
    while enrolment.state == Enrolment.State.ACTIVE and enrolment.due_at and enrolment.due_at <= now:
        if enrolment.step == steps.END or not enrolment.step:
            _finish(enrolment, now)
            break
        reason = exit_reason(enrolment, definition)
        if reason:
            Enrolment.objects.filter(pk=enrolment.pk).update(
                state=Enrolment.State.EXITED, exit_reason=reason, finished_at=now, step="", due_at=None
            )
            enrolment.state = Enrolment.State.EXITED
            break
        if "awaiting" in (enrolment.context or {}):
            resolve_awaiting(enrolment, now)
            continue
        step = steps.find(definition, enrolment.step)
        if step is None:
            _finish(enrolment, now)
            break
        try:
            with transaction.atomic():
                outcome, detail, next_step, due = _perform(enrolment, step, definition, now)
                StepRun.objects.create(
                    enrolment=enrolment,
                    step=step.id,
                    kind=step.kind,
                    outcome=outcome,
                    detail=detail,
                    ran_at=now,
                )
                enrolment.step, enrolment.due_at = next_step, due
                if step.kind == "split" and not enrolment.variant:
                    enrolment.variant = detail.get("path", "")
                Enrolment.objects.filter(pk=enrolment.pk).update(
                    step=next_step, due_at=due, variant=enrolment.variant, context=enrolment.context
                )
        except IntegrityError:
            # Another worker ran this step (its lease ran out under us): take the enrolment as it is now.
            enrolment.refresh_from_db()
            continue
        ran += 1
    return ran


def _awaited(enrolment: Enrolment, awaiting: dict[str, Any]) -> bool:
    """Whether the event a `wait_event` step waits for has happened since the wait began."""
    events = Event.objects.filter(
        customer_id=enrolment.customer_id,
        unit_id=enrolment.unit_id,
        occurred_at__gte=datetime.fromisoformat(awaiting["since"]),
    )
    if awaiting.get("event_kind"):
        events = events.filter(kind=awaiting["event_kind"])
    if awaiting.get("name"):
        events = events.filter(name=awaiting["name"])
    return events.exists()


def resolve_awaiting(enrolment: Enrolment, now: datetime) -> None:
    """End a wait for an event: on to the following step if it happened, else (the timeout) down the
    `timeout` branch. Written at once, so the outcome is kept even if the next step fails."""
    context = dict(enrolment.context or {})
    awaiting = context.pop("awaiting")
    happened = _awaited(enrolment, awaiting)
    context["awaited"] = {"step": awaiting["step"], "outcome": "event" if happened else "timeout"}
    if not happened:
        enrolment.step = awaiting["timeout"]
    enrolment.context, enrolment.due_at = context, now
    Enrolment.objects.filter(pk=enrolment.pk).update(step=enrolment.step, due_at=now, context=context)


def wake_awaiting(customer_ids: list[int], now: datetime) -> int:
    """Make due now the enrolments of these customers whose awaited event has happened (the change
    feed names the customers an event was recorded for); how many."""
    woken = [
        enrolment.pk
        for enrolment in Enrolment.objects.filter(
            customer_id__in=customer_ids, state=Enrolment.State.ACTIVE, due_at__gt=now
        )
        if "awaiting" in (enrolment.context or {}) and _awaited(enrolment, enrolment.context["awaiting"])
    ]
    if woken:
        Enrolment.objects.filter(pk__in=woken, state=Enrolment.State.ACTIVE).update(due_at=now)
        wake()
    return len(woken)


def _finish(enrolment: Enrolment, now: datetime) -> None:
    goal = enrolment.version.definition.get("goal")
    converted = now if goal == "order_placed" and _ordered_since(enrolment) else None
    Enrolment.objects.filter(pk=enrolment.pk).update(
        state=Enrolment.State.COMPLETED, finished_at=now, step="", due_at=None, converted_at=converted
    )
    enrolment.state = Enrolment.State.COMPLETED


def _perform(
    enrolment: Enrolment,
    step: steps.Step,
    definition: dict[str, Any],
    now: datetime,
    members: set[tuple[int, int]] | None = None,
) -> tuple[str, dict[str, Any], str, datetime | None]:
    """Do one step's work inside the caller's transaction: (outcome, detail, next step, when)."""
    following = step.target("next") or steps.next_after(definition, step.id)
    params = step.params
    if step.kind == "wait":
        until = wait_until(enrolment, params, now)
        return StepRun.Outcome.WAITING, {"until": until.isoformat()}, following, max(until, now)
    if step.kind == "wait_event":
        # Wait on the following step until the event happens (the change feed wakes the enrolment:
        # `wake_awaiting`) or the timeout, when `resolve_awaiting` sends it down the `timeout` branch.
        deadline = now + timedelta(hours=float(params.get("hours") or 0))
        enrolment.context = {
            **(enrolment.context or {}),
            "awaiting": {
                "step": step.id,
                "since": now.isoformat(),
                "event_kind": params.get("event_kind", ""),
                "name": params.get("name", ""),
                "timeout": step.target("timeout") or following,
            },
        }
        return StepRun.Outcome.WAITING, {"until": deadline.isoformat()}, following, deadline
    if step.kind == "condition":
        met = _condition(enrolment, params, members)
        if met:
            return StepRun.Outcome.YES, {}, following, now
        return StepRun.Outcome.NO, {}, step.target("no") or following, now
    if step.kind == "split":
        path = holdout.variant(
            f"flow:{enrolment.flow_id}:{step.id}", enrolment.customer_id, params.get("percent_b", 50)
        )
        target = (step.target("b") or following) if path == "b" else following
        return StepRun.Outcome.DONE, {"path": path}, target, now
    from guanxi.marketing import effects

    detail = effects.perform(enrolment, step, now)
    return (
        StepRun.Outcome.DONE if not detail.get("skipped") else StepRun.Outcome.SKIPPED,
        detail,
        following,
        now,
    )


def wait_until(enrolment: Enrolment, params: dict[str, Any], now: datetime) -> datetime:
    """A duration from now (from the trigger's moment with `after_trigger`: "30 minutes after the
    order was placed"), then (with `at`, "HH:MM") the next such time of day in the unit's zone."""
    base = now
    if params.get("after_trigger") and (enrolment.context or {}).get("at"):
        base = datetime.fromisoformat(enrolment.context["at"])
    until = base + timedelta(minutes=int(params.get("minutes") or 0), days=int(params.get("days") or 0))
    if params.get("at"):
        zone = ZoneInfo(enrolment.unit.time_zone)
        hour, minute = (int(part) for part in str(params["at"]).split(":"))
        local = until.astimezone(zone)
        candidate = datetime.combine(local.date(), time(hour, minute), tzinfo=zone)
        if candidate < local:
            candidate = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), tzinfo=zone)
        until = candidate
    return until


def _condition(
    enrolment: Enrolment, params: dict[str, Any], members: set[tuple[int, int]] | None = None
) -> bool:
    from guanxi.segments.models import SegmentMembership

    if params.get("segment") and members is not None:
        return (int(params["segment"]), enrolment.customer_id) in members
    if params.get("segment"):
        return SegmentMembership.objects.filter(
            segment_id=params["segment"], customer_id=enrolment.customer_id, exited_at__isnull=True
        ).exists()
    if params.get("rule"):
        from guanxi.segments import audience, rules

        rule = rules.parse_rule(params["rule"])
        return audience.audience(None, rule, unit=enrolment.unit).filter(pk=enrolment.customer_id).exists()
    if params.get("ordered_since_entry"):
        return _ordered_since(enrolment)
    return True
