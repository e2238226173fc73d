"""Tier qualification: a member's figures over the programme's rolling window, the highest tier they
meet, an immediate upgrade, and the review that downgrades after a grace period."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum

from guanxi.commerce.models import Order, Return
from guanxi.core.money import round_money
from guanxi.loyalty import coupons
from guanxi.loyalty.ledger import months_later
from guanxi.loyalty.models import Membership, Movement, Programme, Tier, TierChange

SALE_STATUSES = [str(status) for status in Order.SALE_STATUSES]


@dataclass(frozen=True)
class Figures:
    spend: Decimal
    orders: int
    points: int

    def as_json(self) -> dict:
        return {"spend": str(self.spend), "orders": self.orders, "points": self.points}


def figures(programme: Programme, customer_id: int, now: datetime) -> Figures:
    """Spend net of refunds and orders paid in the window in the programme's unit, and the points
    earned in it net of reversals."""
    since = now - timedelta(days=programme.qualifying_days)
    orders = list(
        Order.objects.filter(
            customer_id=customer_id,
            unit_id=programme.unit_id,
            status__in=SALE_STATUSES,
            paid_at__gt=since,
            paid_at__lte=now,
        ).values_list("pk", "total_amount", "refunded_amount")
    )
    returned = dict(
        Return.objects.filter(order_id__in=[pk for pk, _t, _r in orders])
        .values("order_id")
        .annotate(s=Sum("amount"))
        .values_list("order_id", "s")
        .order_by()
    )
    # A refund counts once, whether the platform reported it on the order or as a return.
    spend = sum(
        (total - max(refunded, returned.get(pk) or Decimal(0)) for pk, total, refunded in orders), Decimal(0)
    )
    points = Movement.objects.filter(
        programme=programme,
        customer_id=customer_id,
        kind__in=[Movement.Kind.EARN, Movement.Kind.REVERSE],
        occurred_at__gt=since,
        occurred_at__lte=now,
    ).aggregate(s=Sum("points"))["s"]
    return Figures(spend=round_money(spend), orders=len(orders), points=int(points or 0))


def qualifies(tier: Tier, values: Figures) -> bool:
    """Whether `values` meet the tier's conditions (rank 0 and a tier without conditions: always)."""
    tests = [
        values.spend >= tier.min_spend if tier.min_spend > 0 else None,
        values.orders >= tier.min_orders if tier.min_orders > 0 else None,
        values.points >= tier.min_points if tier.min_points > 0 else None,
    ]
    set_tests = [test for test in tests if test is not None]
    if tier.rank == 0 or not set_tests:
        return True
    return any(set_tests) if tier.match == Tier.Match.ANY else all(set_tests)


def qualified_tier(ladder: list[Tier], values: Figures) -> Tier:
    """The highest tier of the ladder (ordered by rank) whose conditions hold."""
    best = ladder[0]
    for tier in ladder:
        if qualifies(tier, values):
            best = tier
    return best


def _change(membership: Membership, to: Tier, reason: str, now: datetime, values: Figures) -> None:
    TierChange.objects.create(
        programme_id=membership.programme_id,
        customer_id=membership.customer_id,
        from_tier=membership.tier,
        to_tier=to,
        reason=reason,
        changed_at=now,
        figures=values.as_json(),
    )
    membership.tier = to
    membership.tier_since = now
    membership.review_at = months_later(membership.programme, now, membership.programme.review_months)
    membership.grace_until = None
    membership.save(update_fields=["tier", "tier_since", "review_at", "grace_until"])
    if reason == TierChange.Reason.UPGRADE:
        coupons.give_tier_coupon(to, [membership.customer_id], now)


def evaluate(membership: Membership, now: datetime, ladder: list[Tier] | None = None) -> str:
    """Upgrade at once if the member qualifies higher; at or after the review time, keep, start the
    grace period, or downgrade when it has run out. Returns what happened ("", "upgrade", "grace",
    "downgrade", "kept"). The membership must be locked by the caller."""
    programme = membership.programme
    ladder = ladder if ladder is not None else list(Tier.objects.filter(programme=programme).order_by("rank"))
    values = figures(programme, membership.customer_id, now)
    target = qualified_tier(ladder, values)
    if target.rank > membership.tier.rank:
        _change(membership, target, TierChange.Reason.UPGRADE, now, values)
        return "upgrade"
    if membership.review_at > now:
        return ""
    if target.rank >= membership.tier.rank:
        membership.review_at = months_later(programme, membership.review_at, programme.review_months)
        while membership.review_at <= now:
            membership.review_at = months_later(programme, membership.review_at, programme.review_months)
        membership.grace_until = None
        membership.save(update_fields=["review_at", "grace_until"])
        return "kept"
    if membership.grace_until is None:
        membership.grace_until = membership.review_at + timedelta(days=programme.grace_days)
        if membership.grace_until > now:
            membership.save(update_fields=["grace_until"])
            TierChange.objects.create(
                programme=programme,
                customer_id=membership.customer_id,
                from_tier=membership.tier,
                to_tier=membership.tier,
                reason=TierChange.Reason.GRACE,
                changed_at=now,
                figures=values.as_json(),
            )
            return "grace"
    if membership.grace_until <= now:
        _change(membership, target, TierChange.Reason.DOWNGRADE, now, values)
        return "downgrade"
    return ""


def _qualifies_sql(tier: Tier, money: Callable[[Decimal], object]) -> tuple[str, list]:
    """`qualifies` as a condition on the staged figures `f` (absent figures are zeros)."""
    tests: list[tuple[str, object]] = []
    if tier.min_spend > 0:
        tests.append(("ROUND(COALESCE(f.spend, 0), 2) >= %s", money(tier.min_spend)))
    if tier.min_orders > 0:
        tests.append(("COALESCE(f.orders, 0) >= %s", tier.min_orders))
    if tier.min_points > 0:
        tests.append(("COALESCE(f.points, 0) >= %s", tier.min_points))
    if tier.rank == 0 or not tests:
        return "1 = 1", []
    joiner = " OR " if tier.match == Tier.Match.ANY else " AND "
    return joiner.join(sql for sql, _value in tests), [value for _sql, value in tests]


def recalculate(programme: Programme, now: datetime, progress: Callable[[int], None] | None = None) -> int:
    """Every member's qualified tier from their window's figures, set-based (ADR 0042): the figures of
    the window (spend net of refunds as `figures` counts it, paid orders, net points) are staged once
    in a temporary table; then, highest tier first, one INSERT … SELECT writes the upgrades' history
    and one UPDATE moves those members, so each lands on the highest tier they qualify for. Lower
    tiers wait for the review (`evaluate`). Returns how many were upgraded."""
    since = now - timedelta(days=programme.qualifying_days)
    ladder = list(Tier.objects.filter(programme=programme).order_by("rank"))
    if len(ladder) < 2:  # nothing to move up to
        if progress is not None:
            progress(Membership.objects.filter(programme=programme).count())
        return 0
    postgres = connection.vendor == "postgresql"
    when = connection.ops.adapt_datetimefield_value
    quote = connection.ops.quote_name
    order_table, return_table = quote(Order._meta.db_table), quote(Return._meta.db_table)
    movement_table, membership_table = quote(Movement._meta.db_table), quote(Membership._meta.db_table)
    tier_table, change_table = quote(Tier._meta.db_table), quote(TierChange._meta.db_table)
    statuses = ", ".join(["%s"] * len(SALE_STATUSES))
    kinds = [str(Movement.Kind.EARN), str(Movement.Kind.REVERSE)]
    review_at = months_later(programme, now, programme.review_months)
    if postgres:
        as_json = (
            "jsonb_build_object('spend', ROUND(COALESCE(f.spend, 0), 2)::text, "
            "'orders', COALESCE(f.orders, 0), 'points', COALESCE(f.points, 0))"
        )
    else:
        as_json = (
            "json_object('spend', printf('%%.2f', COALESCE(f.spend, 0)), "
            "'orders', COALESCE(f.orders, 0), 'points', COALESCE(f.points, 0))"
        )
    # An order's returns are summed through the index on their order, a plan that does not depend on
    # fresh statistics (a join to the grouped returns, planned on stale ones, rescanned them per order).
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            # These statements run for a second or two, where compiling them cost more than it saved
            # (measured in ADR 0042).
            cursor.execute("SET LOCAL jit = off")
        cursor.execute("DROP TABLE IF EXISTS gx_tier_figures")
        cursor.execute(
            f"""CREATE TEMPORARY TABLE gx_tier_figures AS
            SELECT customer_id, SUM(spend) AS spend, SUM(orders) AS orders, SUM(points) AS points FROM (
                SELECT r.customer_id AS customer_id,
                       r.total_amount - CASE WHEN COALESCE(r.returned, 0) > r.refunded_amount
                                             THEN r.returned ELSE r.refunded_amount END AS spend,
                       1 AS orders, 0 AS points
                FROM (
                    SELECT o.customer_id, o.total_amount, o.refunded_amount,
                           (SELECT SUM(amount) FROM {return_table} rt WHERE rt.order_id = o.id) AS returned
                    FROM {order_table} o
                    WHERE o.unit_id = %s AND o.status IN ({statuses}) AND o.paid_at > %s AND o.paid_at <= %s
                      AND o.customer_id IS NOT NULL
                ) AS r
                UNION ALL
                SELECT customer_id, 0, 0, points FROM {movement_table}
                WHERE programme_id = %s AND kind IN (%s, %s) AND occurred_at > %s AND occurred_at <= %s
            ) AS x GROUP BY customer_id""",  # noqa: S608
            [
                programme.unit_id,
                *SALE_STATUSES,
                when(since),
                when(now),
                programme.pk,
                *kinds,
                when(since),
                when(now),
            ],
        )
        cursor.execute("CREATE INDEX gx_tier_figures_customer ON gx_tier_figures (customer_id)")
        if postgres:
            cursor.execute("ANALYZE gx_tier_figures")
        money: Callable[[Decimal], object] = (lambda value: value) if postgres else float
        # Each member's target in one pass: the highest tier above their own whose conditions hold
        # (the CASE tries the ladder from the top). Then one INSERT writes the upgrades' history and
        # one UPDATE moves those members.
        cases, case_params = [], []
        for tier in reversed(ladder[1:]):
            condition, params = _qualifies_sql(tier, money)
            cases.append(f"WHEN t.rank < %s AND ({condition}) THEN %s")
            case_params += [tier.rank, *params, tier.pk]
        cursor.execute("DROP TABLE IF EXISTS gx_tier_targets")
        cursor.execute(
            f"""CREATE TEMPORARY TABLE gx_tier_targets AS
            SELECT membership_id, customer_id, from_tier_id, to_tier_id, figures FROM (
                SELECT m.id AS membership_id, m.customer_id, m.tier_id AS from_tier_id,
                       CASE {" ".join(cases)} END AS to_tier_id, {as_json} AS figures
                FROM {membership_table} m
                JOIN {tier_table} t ON t.id = m.tier_id
                LEFT JOIN gx_tier_figures f ON f.customer_id = m.customer_id
                WHERE m.programme_id = %s AND t.rank < %s
            ) AS targets WHERE to_tier_id IS NOT NULL""",  # noqa: S608
            [*case_params, programme.pk, ladder[-1].rank],
        )
        cursor.execute("CREATE INDEX gx_tier_targets_membership ON gx_tier_targets (membership_id)")
        cursor.execute(
            f"""INSERT INTO {change_table}
                (programme_id, customer_id, from_tier_id, to_tier_id, reason, changed_at, figures)
            SELECT %s, customer_id, from_tier_id, to_tier_id, %s, %s, figures FROM gx_tier_targets""",  # noqa: S608
            [programme.pk, str(TierChange.Reason.UPGRADE), when(now)],
        )
        upgraded = cursor.rowcount
        cursor.execute(
            f"""UPDATE {membership_table} SET tier_id = (SELECT g.to_tier_id FROM gx_tier_targets g
                    WHERE g.membership_id = {membership_table}.id),
                tier_since = %s, review_at = %s, grace_until = NULL
            WHERE id IN (SELECT membership_id FROM gx_tier_targets)""",  # noqa: S608
            [when(now), when(review_at)],
        )
        for tier in ladder[1:]:
            if tier.exclusive_coupon_id is not None:
                cursor.execute("SELECT customer_id FROM gx_tier_targets WHERE to_tier_id = %s", [tier.pk])
                coupons.give_tier_coupon(tier, [row[0] for row in cursor.fetchall()], now)
        cursor.execute("DROP TABLE gx_tier_targets")
        cursor.execute("DROP TABLE gx_tier_figures")
    if progress is not None:
        progress(Membership.objects.filter(programme=programme).count())
    return upgraded
