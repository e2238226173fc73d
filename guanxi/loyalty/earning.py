"""Points from orders: earn on a paid order by the rule version in force when it was paid, reverse pro
rata on its returns, and follow the customer change feed as the `loyalty` reader (ADR 0034).

An order earns once: its movement's key is `earn:<order id>`, and an order is the same row however it
arrives (webhook, import, ingestion API upsert on source and external id). A return reverses
`round(earned × refunded so far / order total)` minus what earlier returns reversed, so partial
returns add up to the whole and never reverse more than was earned. A member without enough points
for a reversal keeps a recorded debt, paid from their next earnings.
"""

import itertools
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, cast

from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef, Sum, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from guanxi.commerce.models import Order, OrderLine, Return
from guanxi.core.bulk import insert_rows
from guanxi.customers import changes
from guanxi.loyalty import coupons, ledger, referrals, tiers
from guanxi.loyalty.models import (
    Account,
    EarnRule,
    Entry,
    Lot,
    Membership,
    Movement,
    Programme,
    Tier,
    TierChange,
)

CHANGE_READER = "loyalty"
CHANGES_PER_PASS = 500
MAX_PASSES = 20
SWEEP_MARGIN_DAYS = 30

ROUNDING = {
    EarnRule.Rounding.FLOOR: ROUND_FLOOR,
    EarnRule.Rounding.HALF_UP: ROUND_HALF_UP,
    EarnRule.Rounding.CEILING: ROUND_CEILING,
}
COMPLETED = [str(Order.Status.COMPLETED)]


def rule_at(rules: list[EarnRule], moment: datetime) -> EarnRule | None:
    """The version in force at `moment` among `rules` (newest first)."""
    for rule in rules:
        if rule.effective_from <= moment:
            return rule
    return None


def rules_of(programme: Programme) -> list[EarnRule]:
    return list(EarnRule.objects.filter(programme=programme).order_by("-effective_from"))


def to_points(value: Decimal, rounding: str) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUNDING[EarnRule.Rounding(rounding)]))


def points_for(
    rule: EarnRule, total: Decimal, store_id: int, lines: list[tuple[str, Decimal]], multiplier: Decimal
) -> int:
    """What an order earns: each line's amount by its category's multiplier (the order total when it
    has no lines), by the store's multiplier, the rate and the member's tier multiplier; rounded once
    for the order, then capped."""
    categories = {key: Decimal(str(value)) for key, value in (rule.category_multipliers or {}).items()}
    if lines:
        base = sum((amount * categories.get(category, Decimal(1)) for category, amount in lines), Decimal(0))
    else:
        base = total
    store = Decimal(str((rule.store_multipliers or {}).get(str(store_id), 1)))
    points = to_points(base * store * rule.points_per_yuan * multiplier, rule.rounding)
    if rule.max_points_per_order is not None:
        points = min(points, rule.max_points_per_order)
    return max(points, 0)


def earn_key(order_id: int) -> str:
    return f"earn:{order_id}"


def due(order: Order, rule: EarnRule, now: datetime) -> bool:
    if order.paid_at is None or order.customer_id is None:
        return False
    if rule.on_status == EarnRule.OnStatus.COMPLETED and order.status not in COMPLETED:
        return False
    if order.status not in tiers.SALE_STATUSES:
        return False
    return order.paid_at + timedelta(days=rule.delay_days) <= now


def earn_for_order(
    programme: Programme, order: Order, now: datetime, rules: list[EarnRule] | None = None
) -> Movement | None:
    """Earn the order's points if it is due and has not earned; inside the caller's transaction,
    which holds the member's lock. None when nothing was written."""
    assert order.paid_at is not None and order.customer_id is not None
    rule = rule_at(rules if rules is not None else rules_of(programme), order.paid_at)
    if rule is None or not due(order, rule, now):
        return None
    if Movement.objects.filter(programme=programme, key=earn_key(order.pk)).exists():
        return None
    membership = ledger.locked_membership(programme, order.customer_id, now)
    assert membership is not None
    lines = [
        (category, amount)
        for category, amount in OrderLine.objects.filter(order=order).values_list("category", "amount")
    ]
    points = points_for(rule, order.total_amount, order.store_id, lines, membership.tier.points_multiplier)
    if points <= 0:
        return None
    return ledger.post(
        programme=programme,
        customer_id=order.customer_id,
        kind=Movement.Kind.EARN,
        key=earn_key(order.pk),
        sides=ledger.credit_sides(programme.pk, order.customer_id, points, Account.EARNED),
        occurred_at=order.paid_at,
        points=points,
        expires_at=ledger.expiry_for(programme, order.paid_at),
        order=order,
        rule=rule,
    )


def reverse_for_return(programme: Programme, record: Return, now: datetime) -> Movement | None:
    """Reverse the share of the order's points that this return refunds (see the module docstring)."""
    order = record.order
    if order is None or order.customer_id is None:
        return None
    key = f"reverse:{record.pk}"
    if Movement.objects.filter(programme=programme, key=key).exists():
        return None
    earned = Movement.objects.filter(programme=programme, key=earn_key(order.pk)).first()
    if earned is None:
        return None
    customer_id = earned.customer_id
    membership = ledger.locked_membership(programme, customer_id, now)
    assert membership is not None
    earlier = Return.objects.filter(order=order).exclude(pk=record.pk)
    earlier_keys = [f"reverse:{pk}" for pk in earlier.values_list("pk", flat=True)]
    reversed_before = -sum(
        Movement.objects.filter(programme=programme, key__in=earlier_keys).values_list("points", flat=True)
    )
    refunded = sum(
        Return.objects.filter(
            order=order, pk__in=[*earlier.values_list("pk", flat=True), record.pk]
        ).values_list("amount", flat=True),
        Decimal(0),
    )
    if order.total_amount <= 0:
        return None
    share = min(refunded / order.total_amount, Decimal(1))
    target = to_points(earned.points * share, EarnRule.Rounding.HALF_UP)
    points = min(target, earned.points) - reversed_before
    if points <= 0:
        return None
    lots = ledger.open_lots(programme.pk, customer_id, first_movement_id=earned.pk)
    available = sum(lot.remaining for lot in lots)
    take = min(points, available)
    sides = [ledger.Side(Account.REVERSED, points)]
    sides += ledger.take_fifo(lots, take, customer_id) if take else []
    if points - take:
        sides.append(ledger.Side(Account.DEBT, -(points - take), customer_id))
    return ledger.post(
        programme=programme,
        customer_id=customer_id,
        kind=Movement.Kind.REVERSE,
        key=key,
        sides=sides,
        occurred_at=record.returned_at,
        points=-points,
        order=order,
    )


def programmes_by_unit() -> dict[int, Programme]:
    return {p.unit_id: p for p in Programme.objects.select_related("unit")}


@dataclass
class SyncResult:
    earned: int = 0
    reversed: int = 0
    redeemed_coupons: int = 0
    tier_changes: int = 0
    referrals: int = 0


def sync_customers(customer_ids: Iterable[int], now: datetime | None = None) -> SyncResult:
    """Bring these customers' points and tiers up to date with their orders and returns: earn what is
    due, reverse returns, redeem coupons their orders carry, and re-evaluate their tiers. Idempotent."""
    now = now or timezone.now()
    ids = sorted(set(customer_ids))
    result = SyncResult()
    by_unit = programmes_by_unit()
    if not ids or not by_unit:
        return result
    rules = {p.pk: rules_of(p) for p in by_unit.values()}
    programmes = {p.pk: p for p in by_unit.values()}
    ladders: dict[int, list[Tier]] = defaultdict(list)
    for tier in Tier.objects.filter(programme__in=list(by_unit.values())).order_by("rank"):
        ladders[tier.programme_id].append(tier)
    for customer_id in ids:
        with transaction.atomic():
            touched: set[int] = set()
            orders = Order.objects.filter(
                customer_id=customer_id, unit_id__in=list(by_unit), paid_at__isnull=False
            ).order_by("paid_at", "pk")
            for order in orders:
                programme = by_unit[order.unit_id]
                if not ladders[programme.pk]:
                    continue
                if earn_for_order(programme, order, now, rules[programme.pk]) is not None:
                    result.earned += 1
                    touched.add(programme.pk)
                if order.attributes.get("coupon_codes") or order.attributes.get("discount_codes"):
                    result.redeemed_coupons += coupons.redeem_codes_of(order, now)
            returns = (
                Return.objects.filter(
                    order__customer_id=customer_id, unit_id__in=list(by_unit), order__isnull=False
                )
                .select_related("order")
                .order_by("returned_at", "pk")
            )
            for record in returns:
                programme = by_unit[record.unit_id]
                if reverse_for_return(programme, record, now) is not None:
                    result.reversed += 1
                    touched.add(programme.pk)
            for programme_id in sorted(touched):
                if referrals.settle(programmes[programme_id], customer_id, now) is not None:
                    result.referrals += 1
            for membership in (
                Membership.objects.select_for_update()
                .filter(customer_id=customer_id)
                .select_related("programme", "tier")
            ):
                if tiers.evaluate(membership, now, ladders[membership.programme_id]) in (
                    "upgrade",
                    "downgrade",
                ):
                    result.tier_changes += 1
    return result


def follow_changes(now: datetime | None = None) -> int:
    """Process the loyalty reader's rows of the customer change feed; how many customers."""
    done = 0
    for _pass in range(MAX_PASSES):
        with changes.taken(CHANGE_READER, CHANGES_PER_PASS) as customer_ids:
            sync_customers(customer_ids, now)
        if not customer_ids:
            break
        done += len(customer_ids)
    return done


def earn_due(now: datetime | None = None) -> SyncResult:
    """The periodic sweep for orders whose return window ended since they changed: customers with a
    paid order and no earn movement yet are synced."""
    now = now or timezone.now()
    units = list(programmes_by_unit())
    # Orders paid before the longest return window plus a margin were earned by an earlier sweep, the
    # feed or the backfill; looking further back would re-read every order that earns nothing.
    longest = max(EarnRule.objects.values_list("delay_days", flat=True), default=0)
    since = now - timedelta(days=longest + SWEEP_MARGIN_DAYS)
    earned = Movement.objects.filter(kind=Movement.Kind.EARN, order=OuterRef("pk"))
    customer_ids = (
        Order.objects.filter(
            unit_id__in=units, paid_at__gte=since, paid_at__lte=now, customer_id__isnull=False
        )
        .filter(status__in=tiers.SALE_STATUSES)
        .filter(~Exists(earned))
        .values_list("customer_id", flat=True)
        .distinct()
    )
    return sync_customers(list(customer_ids), now)


@dataclass
class BackfillResult:
    orders: int = 0
    lines: int = 0
    movements: int = 0
    members: int = 0
    slow_path: int = 0  # customers settled one by one afterwards (returns to reverse, debts)
    slow_seconds: float = 0.0


def history_span(programme: Programme, now: datetime) -> tuple[int, int] | None:
    """The first and last ids of the unit's paid orders with a customer: the backfill's progress is
    counted in order ids of this span (`backfill` reports each stretch of it once done)."""
    span = Order.objects.filter(
        unit_id=programme.unit_id, customer_id__isnull=False, paid_at__isnull=False, paid_at__lte=now
    ).aggregate(low=models.Min("pk"), high=models.Max("pk"))
    return None if span["low"] is None else (span["low"], span["high"])


def backfill(
    programme: Programme,
    now: datetime | None = None,
    *,
    batch: int = 20_000,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> BackfillResult:
    """The initial points of a programme's history, written in bulk: every due order of the unit
    without an earn movement earns by its rule version, a membership at the entry tier is opened for
    each new member, and the movements, lots and entries of a batch go in three bulk inserts.
    Customers with a debt or a return go through `sync_customers` afterwards (reversals, debt
    settlement); tiers are then re-derived in bulk (`tiers.recalculate`). Run it on a programme's
    history before the change feed is followed (it takes no member locks). On PostgreSQL, `workers`
    connections earn at once, each for its share of the customers, when no transaction is open.
    `progress(n)` is told each stretch of `history_span` once it is done."""
    now = now or timezone.now()
    result = BackfillResult()
    rules = rules_of(programme)
    ladder = list(Tier.objects.filter(programme=programme).order_by("rank"))
    if not rules or not ladder:
        return result
    entry = ladder[0]
    if connection.vendor == "postgresql":
        return _settle_slow_path(
            programme,
            _backfill_in_sql(programme, rules, entry, now, batch * 10, result, progress, workers),
            now,
            result,
        )
    multiplier = {tier.pk: tier.points_multiplier for tier in ladder}
    earned = Movement.objects.filter(programme=programme, kind=Movement.Kind.EARN, order=OuterRef("pk"))
    candidates = (
        Order.objects.filter(
            unit_id=programme.unit_id, customer_id__isnull=False, paid_at__isnull=False, paid_at__lte=now
        )
        .filter(status__in=tiers.SALE_STATUSES)
        .filter(~Exists(earned))
        .order_by("pk")
    )
    slow: set[int] = set()
    span = history_span(programme, now)
    last = span[0] - 1 if span else 0
    while True:
        orders = list(
            candidates.filter(pk__gt=last).values_list(
                "pk", "customer_id", "store_id", "total_amount", "paid_at", "status"
            )[:batch]
        )
        if not orders:
            break
        reported, last = last, orders[-1][0]
        with transaction.atomic():
            result.orders += len(orders)
            lines: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
            for order_id, category, amount in OrderLine.objects.filter(
                order_id__in=[o[0] for o in orders]
            ).values_list("order_id", "category", "amount"):
                lines[order_id].append((category, amount))
                result.lines += 1
            customer_ids = {o[1] for o in orders}
            tier_of = dict(
                Membership.objects.filter(programme=programme, customer_id__in=customer_ids).values_list(
                    "customer_id", "tier_id"
                )
            )
            owing = set(
                Entry.objects.filter(
                    movement__programme=programme, account=Account.DEBT, customer_id__in=customer_ids
                )
                .values("customer_id")
                .annotate(s=Sum("amount"))
                .filter(s__lt=0)
                .values_list("customer_id", flat=True)
            )
            new_members: dict[int, datetime] = {}
            movements: list[Movement] = []
            for order_id, customer_id, store_id, total, paid, status in orders:
                paid_at = cast(datetime, paid)  # the candidates have a payment time
                rule = rule_at(rules, paid_at)
                if rule is None or customer_id in owing:
                    slow.add(customer_id)
                    continue
                if rule.on_status == EarnRule.OnStatus.COMPLETED and status not in COMPLETED:
                    continue
                if paid_at + timedelta(days=rule.delay_days) > now:
                    continue
                tier_id = tier_of.get(customer_id, entry.pk)
                points = points_for(rule, total, store_id, lines.get(order_id, []), multiplier[tier_id])
                if customer_id not in tier_of:
                    new_members[customer_id] = min(paid_at, new_members.get(customer_id, paid_at))
                if points <= 0:
                    continue
                movements.append(
                    Movement(
                        programme=programme,
                        customer_id=customer_id,
                        kind=Movement.Kind.EARN,
                        key=earn_key(order_id),
                        points=points,
                        order_id=order_id,
                        rule=rule,
                        occurred_at=paid_at,
                        created_at=now,
                    )
                )
            _open_memberships(programme, entry, new_members, now)
            result.members += len(new_members)
            _write_earnings(programme, movements, now)
            result.movements += len(movements)
        if progress is not None:
            progress(last - reported)
    if progress is not None and span is not None and span[1] > last:
        progress(span[1] - last)
    return _settle_slow_path(programme, slow, now, result)


def _settle_slow_path(
    programme: Programme, slow: set[int], now: datetime, result: BackfillResult
) -> BackfillResult:
    """Customers with a debt, an order before the first rule or a return not yet reversed go through
    `sync_customers` (reversals, debt settlement)."""
    # Probes of the movements' unique key per return, not the programme's movements read whole: at 1M
    # they are millions of rows, the returns a few thousand.
    earned = Movement.objects.filter(
        programme=programme, key=Concat(Value("earn:"), Cast(OuterRef("order_id"), models.CharField()))
    )
    reversal = Movement.objects.filter(
        programme=programme, key=Concat(Value("reverse:"), Cast(OuterRef("pk"), models.CharField()))
    )
    returned = set(
        Return.objects.filter(unit_id=programme.unit_id)
        .filter(Exists(earned), ~Exists(reversal))
        .order_by()
        .values_list("order__customer_id", flat=True)
        .distinct()
    )
    slow |= returned
    result.slow_path = len(slow)
    started = time.perf_counter()
    for start in range(0, len(slow), 500):
        sync_customers(sorted(slow)[start : start + 500], now)
    result.slow_seconds = time.perf_counter() - started
    return result


def _backfill_in_sql(
    programme: Programme,
    rules: list[EarnRule],
    entry: Tier,
    now: datetime,
    batch: int,
    result: BackfillResult,
    progress: Callable[[int], None] | None,
    workers: int,
) -> set[int]:
    """The backfill on PostgreSQL, set-based (ADR 0042): per range of order ids and per rule version,
    memberships are opened by one INSERT … SELECT, each due order's points are computed in SQL into a
    stage table (numeric arithmetic, the rule's category and store multipliers, the member's tier
    multiplier, rounding once per order, the cap), and its movements, lots and entries are written by
    three INSERT … SELECT. The movement's unique key `earn:<order id>` keeps it idempotent. With
    several workers, each takes a range of customer ids on its own connection: no two touch the same
    member, so they never wait for each other. Returns the customers left to the slow path."""
    quote = connection.ops.quote_name
    order_t, line_t = quote(Order._meta.db_table), quote(OrderLine._meta.db_table)
    movement_t, lot_t, entry_t = (quote(m._meta.db_table) for m in (Movement, Lot, Entry))
    membership_t, tier_t, change_t = (quote(m._meta.db_table) for m in (Membership, Tier, TierChange))
    tables = (order_t, line_t, movement_t, lot_t, entry_t, membership_t, tier_t, change_t)
    zone = programme.unit.time_zone
    expires_params: list[object] = []
    if programme.expiry == Programme.Expiry.NEVER:
        expires_sql = "NULL::timestamptz"
    elif programme.expiry == Programme.Expiry.END_OF_NEXT_YEAR:
        expires_sql = (
            "make_timestamptz(EXTRACT(YEAR FROM e.paid_at AT TIME ZONE %s)::int + 2, 1, 1, 0, 0, 0, %s)"
        )
        expires_params = [zone, zone]
    else:  # the same wall-clock time N months on; PostgreSQL clamps the 29th–31st as add_months does
        expires_sql = "((e.paid_at AT TIME ZONE %s) + make_interval(months => %s)) AT TIME ZONE %s"
        expires_params = [zone, programme.expiry_months, zone]
    statuses = [str(status) for status in tiers.SALE_STATUSES]
    slow: set[int] = set()
    with connection.cursor() as cursor:
        _analyze_if_stale(cursor, [Order, OrderLine, Membership, Movement])
        span = history_span(programme, now)
        if span is None:
            return slow
        low, high = span
        # Orders paid before the first rule version earn nothing; their customers take the slow path.
        cursor.execute(
            f"""SELECT DISTINCT customer_id FROM {order_t} WHERE unit_id = %s AND customer_id IS NOT NULL
            AND paid_at < %s AND status = ANY(%s)""",  # noqa: S608
            [programme.unit_id, rules[-1].effective_from, statuses],
        )
        slow.update(row[0] for row in cursor.fetchall())
        # Named once: pg_get_serial_sequence for every row cost as much as drawing the id (2.4 µs).
        cursor.execute(
            "SELECT pg_get_serial_sequence(%s, 'id'), pg_get_serial_sequence(%s, 'id')",
            [Movement._meta.db_table, Lot._meta.db_table],
        )
        sequences = cursor.fetchone()
        cursor.execute(
            f"""SELECT en.customer_id FROM {entry_t} en JOIN {movement_t} mv ON mv.id = en.movement_id
            WHERE mv.programme_id = %s AND en.account = %s GROUP BY en.customer_id HAVING SUM(en.amount) < 0""",  # noqa: S608
            [programme.pk, str(Account.DEBT)],
        )
        owing = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"""SELECT MIN(customer_id), MAX(customer_id) FROM {order_t} WHERE unit_id = %s
            AND id >= %s AND id <= %s""",  # noqa: S608
            [programme.unit_id, low, high],
        )
        first_customer, last_customer = cursor.fetchone()
    slow.update(owing)
    if workers <= 1 or connection.in_atomic_block:
        # Other connections would not see what the caller's open transaction wrote: one worker, in it.
        workers = 1
    # Each worker takes a range of customer ids (ranges, not remainders: the planner estimates them).
    step = (last_customer + 1 - first_customer) / workers
    bounds = [first_customer + round(step * k) for k in range(workers)] + [last_customer + 1]
    shards = list(itertools.pairwise(bounds))
    ends = [None, *[rule.effective_from for rule in rules[:-1]]]  # rules are newest first
    # Oldest version first, so a member joins at their first due order.
    versions = list(reversed(list(zip(rules, ends, strict=True))))
    starts = list(range(low, high + 1, batch))
    # Members the backfill opens join at the entry tier and no tier changes while it runs: only members
    # from before it may earn by another tier's multiplier.
    tiered = list(
        Membership.objects.filter(programme=programme)
        .exclude(tier__points_multiplier=entry.points_multiplier)
        .values_list("tier_id", flat=True)
        .distinct()
    )

    def earn_shard(shard: tuple[int, int], done: Callable[[int], None]) -> BackfillResult:
        part = BackfillResult()
        with connection.cursor() as cursor:
            _collect_tiered_members(cursor, programme, tiered, shard, tables)
            for start in starts:
                for rule, until in versions:
                    # The ledger grows from empty as the ranges are earned: plans made on its first
                    # statistics scan it for every order (minutes per range at a million members).
                    # Outside the range's transaction, so the sampling's lock is not held through it.
                    if not connection.in_atomic_block:
                        _analyze_if_stale(cursor, [Membership, Movement])
                    with transaction.atomic():
                        _earn_range(
                            cursor,
                            programme,
                            rule,
                            until,
                            entry,
                            now,
                            (start, start + batch, *shard),
                            statuses,
                            owing,
                            (expires_sql, expires_params),
                            part,
                            tables,
                            sequences,
                        )
                done(start)
            cursor.execute("DROP TABLE gx_tiered")
        return part

    size = {start: min(batch, high + 1 - start) for start in starts}
    if len(shards) == 1:
        parts = [earn_shard(shards[0], lambda start: progress(size[start]) if progress else None)]
    else:
        parts = _in_threads(earn_shard, shards, size, progress)
    for part in parts:
        for name in ("orders", "lines", "movements", "members"):
            setattr(result, name, getattr(result, name) + getattr(part, name))
    return slow


def _collect_tiered_members(
    cursor: Any, programme: Programme, tiered: list[int], shard: tuple[int, int], tables: tuple[str, ...]
) -> None:
    """`gx_tiered` on this connection: the shard's members in a tier whose multiplier is not the entry
    tier's, by customer. The stages read multipliers from it rather than from the memberships, whose
    statistics do not know the members just inserted: plans made for "one member of this programme"
    read every member for every order (minutes per range at 1M, ADR 0042)."""
    membership_t, tier_t = tables[5], tables[6]
    cursor.execute("DROP TABLE IF EXISTS gx_tiered")
    cursor.execute(
        "CREATE TEMPORARY TABLE gx_tiered (customer_id bigint PRIMARY KEY, multiplier numeric NOT NULL)"
    )
    if tiered:
        cursor.execute(
            f"""INSERT INTO gx_tiered SELECT m.customer_id, t.points_multiplier
            FROM {membership_t} m JOIN {tier_t} t ON t.id = m.tier_id
            WHERE m.programme_id = %s AND m.tier_id = ANY(%s) AND m.customer_id >= %s AND m.customer_id < %s""",  # noqa: S608
            [programme.pk, tiered, *shard],
        )
    cursor.execute("ANALYZE gx_tiered")


def _analyze_if_stale(cursor: Any, models_read: list[type[models.Model]]) -> None:
    """The history was usually just imported: plans on stale statistics join orders to their grouped
    lines by nested loops. Tables changed by more than a tenth since their last ANALYZE (or never
    analysed) are sampled again; fresh samples cost a second or two on millions of rows."""
    cursor.execute(
        """SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s)
        AND (COALESCE(last_analyze, last_autoanalyze) IS NULL OR n_mod_since_analyze > n_live_tup / 10)""",
        [[model._meta.db_table for model in models_read]],
    )
    for (table,) in cursor.fetchall():
        cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def _in_threads(
    earn_shard: Callable[[tuple[int, int], Callable[[int], None]], BackfillResult],
    shards: list[tuple[int, int]],
    size: dict[int, int],
    progress: Callable[[int], None] | None,
) -> list[BackfillResult]:
    """Run `earn_shard` for each shard in its own thread and connection; a range of orders counts as
    done (for `progress`, called from this thread) once every shard has done it."""
    finished: queue.Queue[int | None] = queue.Queue()
    parts: list[BackfillResult] = []
    errors: list[BaseException] = []

    def run(shard: tuple[int, int]) -> None:
        try:
            parts.append(earn_shard(shard, finished.put))
        except BaseException as error:  # re-raised in the caller's thread below
            errors.append(error)
        finally:
            connection.close()
            finished.put(None)

    threads = [threading.Thread(target=run, args=(shard,), daemon=True) for shard in shards]
    for thread in threads:
        thread.start()
    shards_done: dict[int, int] = defaultdict(int)
    running = len(shards)
    while running:
        start = finished.get()
        if start is None:
            running -= 1
            continue
        shards_done[start] += 1
        if shards_done[start] == len(shards) and progress is not None:
            progress(size[start])
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return parts


def _earn_range(
    cursor: Any,
    programme: Programme,
    rule: EarnRule,
    until: datetime | None,
    entry: Tier,
    now: datetime,
    ids: tuple[int, int, int, int],
    statuses: list[str],
    owing: list[int],
    expires: tuple[str, list],
    result: BackfillResult,
    tables: tuple[str, ...],
    sequences: tuple[str, str],
) -> None:
    """One rule version over one range of order ids, `ids` = (first, end, first customer, end
    customer): the orders of the customers in that range of ids (see `_backfill_in_sql`)."""
    order_t, line_t, movement_t, lot_t, entry_t, membership_t, _tier, change_t = tables
    expires_sql, expires_params = expires
    categories = {str(k): Decimal(str(v)) for k, v in (rule.category_multipliers or {}).items()}
    stores: dict[int, Decimal] = {}
    for key, value in (rule.store_multipliers or {}).items():
        if str(key).isdigit():
            stores[int(key)] = Decimal(str(value))
    category_case = (
        "CASE l.category " + " ".join("WHEN %s THEN %s::numeric" for _ in categories) + " ELSE 1 END"
        if categories
        else "1"
    )
    store_case = (
        "CASE o.store_id " + " ".join("WHEN %s THEN %s::numeric" for _ in stores) + " ELSE 1 END"
        if stores
        else "1"
    )
    rounding = {
        EarnRule.Rounding.FLOOR: "FLOOR",
        EarnRule.Rounding.HALF_UP: "ROUND",  # numeric ROUND takes halves away from zero
        EarnRule.Rounding.CEILING: "CEIL",
    }[EarnRule.Rounding(rule.rounding)]
    cap = "LEAST(%s, {0})" if rule.max_points_per_order is not None else "{0}"
    completed = "AND o.status = %s" if rule.on_status == EarnRule.OnStatus.COMPLETED else ""
    # The due orders of this range and rule version, not yet earned, of customers without a debt.
    due_sql = f"""FROM {order_t} o
        WHERE o.unit_id = %s AND o.id >= %s AND o.id < %s AND o.customer_id IS NOT NULL
          AND o.paid_at >= %s {"AND o.paid_at < %s" if until else ""} AND o.paid_at <= %s
          AND o.paid_at + make_interval(days => %s) <= %s AND o.status = ANY(%s) {completed}
          AND NOT (o.customer_id = ANY(%s)) AND o.customer_id >= %s AND o.customer_id < %s
          AND NOT EXISTS (SELECT 1 FROM {movement_t} mv WHERE mv.programme_id = %s AND mv.key = 'earn:' || o.id)"""  # noqa: S608
    due_params = [
        programme.unit_id,
        ids[0],
        ids[1],
        rule.effective_from,
        *([until] if until else []),
        now,
        rule.delay_days,
        now,
        statuses,
        *([str(Order.Status.COMPLETED)] if completed else []),
        owing,
        ids[2],
        ids[3],
        programme.pk,
    ]
    # Each worker is one process per CPU already: parallel plans grouped the range's lines again in
    # every helper process, and compiling each statement (JIT) cost ~0.1 s a range (measured at 1M).
    cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    cursor.execute("SET LOCAL jit = off")
    # The due orders first, on their own: the planner cannot know that orders of a range are not
    # earned yet, and once the ledger's statistics held most orders' keys it expected one due order
    # and grouped the range's lines again for each (two minutes for a range at 1M). A table of them is
    # estimated by its size, so the lines are grouped once below.
    cursor.execute("DROP TABLE IF EXISTS gx_orders")
    cursor.execute(
        f"""CREATE TEMPORARY TABLE gx_orders ON COMMIT DROP AS
        SELECT o.id, o.customer_id, o.paid_at, o.total_amount, o.store_id {due_sql}""",
        due_params,
    )
    # Each due order's base: its lines by their categories' multipliers (the order total when it has
    # none), by the store's multiplier and the rate; the tier's comes below.
    cursor.execute("DROP TABLE IF EXISTS gx_due")
    cursor.execute(
        f"""CREATE TEMPORARY TABLE gx_due ON COMMIT DROP AS
        SELECT o.id AS order_id, o.customer_id, o.paid_at, COALESCE(b.lines, 0) AS lines,
               COALESCE(b.base, o.total_amount) * {store_case} * %s::numeric AS base
        FROM gx_orders o
        LEFT JOIN (SELECT l.order_id, SUM(l.amount * {category_case}) AS base, COUNT(*) AS lines
                   FROM {line_t} l WHERE l.order_id >= %s AND l.order_id < %s GROUP BY l.order_id) b
               ON b.order_id = o.id""",  # noqa: S608
        [
            *[v for key, value in stores.items() for v in (key, value)],
            rule.points_per_yuan,
            *[v for key, value in categories.items() for v in (key, value)],
            ids[0],
            ids[1],
        ],
    )
    cursor.execute("SELECT COUNT(*), COALESCE(SUM(lines), 0) FROM gx_due")
    orders, lines = cursor.fetchone()
    result.orders += orders
    result.lines += int(lines)
    # Customers without a membership join at the entry tier, on their first due order (ON CONFLICT:
    # a probe of the unique index, whatever the memberships' statistics say; see gx_tiered).
    review_at = ledger.months_later(programme, now, programme.review_months)
    cursor.execute(
        f"""WITH joined AS (
            INSERT INTO {membership_t} (programme_id, customer_id, tier_id, tier_since, review_at, joined_at, joined_via)
            SELECT %s, d.customer_id, %s, MIN(d.paid_at), %s, MIN(d.paid_at), %s FROM gx_due d
            GROUP BY d.customer_id
            ON CONFLICT (customer_id, programme_id) DO NOTHING
            RETURNING customer_id, joined_at)
        INSERT INTO {change_t} (programme_id, customer_id, to_tier_id, reason, changed_at, figures)
        SELECT %s, customer_id, %s, %s, joined_at, '{{}}'::jsonb FROM joined""",  # noqa: S608
        [
            programme.pk,
            entry.pk,
            review_at,
            str(Membership.Via.PURCHASE),
            programme.pk,
            entry.pk,
            str(TierChange.Reason.JOINED),
        ],
    )
    result.members += cursor.rowcount
    points_sql = cap.format(f"{rounding}(d.base * COALESCE(x.multiplier, %s::numeric))")
    cursor.execute("DROP TABLE IF EXISTS gx_earn")
    cursor.execute(
        f"""CREATE TEMPORARY TABLE gx_earn ON COMMIT DROP AS
        SELECT nextval(%s::regclass) AS movement_id, nextval(%s::regclass) AS lot_id, e.*
        FROM (SELECT d.order_id, d.customer_id, d.paid_at, GREATEST({points_sql}, 0)::bigint AS points
              FROM gx_due d LEFT JOIN gx_tiered x ON x.customer_id = d.customer_id) e
        WHERE e.points > 0""",  # noqa: S608
        [
            *sequences,
            *([rule.max_points_per_order] if rule.max_points_per_order is not None else []),
            entry.points_multiplier,
        ],
    )
    cursor.execute(
        f"""INSERT INTO {movement_t} (id, programme_id, customer_id, kind, key, points, order_id, rule_id,
            reason, occurred_at, created_at, actor_id)
        SELECT movement_id, %s, customer_id, %s, 'earn:' || order_id, points, order_id, %s, '', paid_at, %s, NULL
        FROM gx_earn""",  # noqa: S608
        [programme.pk, str(Movement.Kind.EARN), rule.pk, now],
    )
    result.movements += cursor.rowcount
    cursor.execute(
        f"""INSERT INTO {lot_t} (id, programme_id, customer_id, movement_id, points, remaining, earned_at, expires_at)
        SELECT lot_id, %s, customer_id, movement_id, points, points, paid_at, {expires_sql} FROM gx_earn e""",  # noqa: S608
        [programme.pk, *expires_params],
    )
    cursor.execute(
        f"""INSERT INTO {entry_t} (movement_id, account, customer_id, lot_id, amount)
        SELECT movement_id, %s, NULL, NULL, -points FROM gx_earn
        UNION ALL SELECT movement_id, %s, customer_id, lot_id, points FROM gx_earn""",  # noqa: S608
        [str(Account.EARNED), str(Account.MEMBER)],
    )
    cursor.execute("DROP TABLE gx_earn, gx_due, gx_orders")


def _reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` primary keys for rows written with explicit ids: from the table's sequence on
    PostgreSQL; above the highest id on SQLite, whose writer holds the database's write lock."""
    if not count:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        first = cursor.fetchone()[0] + 1
    return list(range(first, first + count))


def _write_earnings(programme: Programme, movements: list[Movement], now: datetime) -> None:
    """The movements of a backfill batch with a lot and two entries each, as plain rows (COPY on
    PostgreSQL, executemany on SQLite): model instances cost more than the database did."""
    when = connection.ops.adapt_datetimefield_value
    movement_ids = _reserve_ids(Movement, len(movements))
    lot_ids = _reserve_ids(Lot, len(movements))
    created = when(now)
    zone_expiry: dict[datetime, datetime | None] = {}
    with connection.cursor() as cursor:
        insert_rows(
            cursor,
            Movement._meta.db_table,
            [
                "id",
                "programme_id",
                "customer_id",
                "kind",
                "key",
                "points",
                "order_id",
                "rule_id",
                "reason",
                "occurred_at",
                "created_at",
                "actor_id",
            ],
            (
                (
                    pk,
                    programme.pk,
                    m.customer_id,
                    m.kind,
                    m.key,
                    m.points,
                    m.order_id,
                    m.rule_id,
                    "",
                    when(m.occurred_at),
                    created,
                    None,
                )
                for pk, m in zip(movement_ids, movements, strict=True)
            ),
        )
        rows = []
        for pk, lot_pk, m in zip(movement_ids, lot_ids, movements, strict=True):
            if m.occurred_at not in zone_expiry:
                zone_expiry[m.occurred_at] = ledger.expiry_for(programme, m.occurred_at)
            expires = zone_expiry[m.occurred_at]
            rows.append(
                (
                    lot_pk,
                    programme.pk,
                    m.customer_id,
                    pk,
                    m.points,
                    m.points,
                    when(m.occurred_at),
                    when(expires) if expires else None,
                )
            )
        insert_rows(
            cursor,
            Lot._meta.db_table,
            [
                "id",
                "programme_id",
                "customer_id",
                "movement_id",
                "points",
                "remaining",
                "earned_at",
                "expires_at",
            ],
            rows,
        )
        insert_rows(
            cursor,
            Entry._meta.db_table,
            ["movement_id", "account", "customer_id", "lot_id", "amount"],
            (
                row
                for pk, lot_pk, m in zip(movement_ids, lot_ids, movements, strict=True)
                for row in (
                    (pk, Account.EARNED, None, None, -m.points),
                    (pk, Account.MEMBER, m.customer_id, lot_pk, m.points),
                )
            ),
        )


def _open_memberships(
    programme: Programme, entry: Tier, first_paid: dict[int, datetime], now: datetime
) -> None:
    """Memberships at the entry tier for customers joining by their first paid order (bulk)."""
    if not first_paid:
        return
    Membership.objects.bulk_create(
        [
            Membership(
                programme=programme,
                customer_id=customer_id,
                tier=entry,
                tier_since=joined,
                review_at=ledger.months_later(programme, max(joined, now), programme.review_months),
                joined_at=joined,
                joined_via=Membership.Via.PURCHASE,
            )
            for customer_id, joined in first_paid.items()
        ],
        batch_size=5000,
    )
    TierChange.objects.bulk_create(
        [
            TierChange(
                programme=programme,
                customer_id=customer_id,
                to_tier=entry,
                reason=TierChange.Reason.JOINED,
                changed_at=joined,
            )
            for customer_id, joined in first_paid.items()
        ],
        batch_size=5000,
    )
