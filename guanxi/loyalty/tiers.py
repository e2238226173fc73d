"""Tier qualification: a member's figures over the programme's rolling window, the highest tier they
meet, an immediate upgrade, and the review that downgrades after a grace period."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Sum

from guanxi.commerce.models import Order, Return
from guanxi.core.money import round_money
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


def recalculate(programme: Programme, now: datetime, progress: Callable[[int], None] | None = None) -> int:
    """Every member's qualified tier from their window's figures, in a few grouped queries; members
    who qualify higher are upgraded in bulk (one UPDATE per target tier) with their history. Lower
    tiers wait for the review (`evaluate`). Returns how many were upgraded."""
    since = now - timedelta(days=programme.qualifying_days)
    ladder = list(Tier.objects.filter(programme=programme).order_by("rank"))
    if not ladder:
        return 0
    window = Order.objects.filter(
        unit_id=programme.unit_id,
        status__in=SALE_STATUSES,
        paid_at__gt=since,
        paid_at__lte=now,
        customer_id__isnull=False,
    )
    spend: dict[int, Decimal] = defaultdict(Decimal)
    orders: dict[int, int] = defaultdict(int)
    for customer_id, total, count in (
        window.values("customer_id")
        .annotate(t=Sum(F("total_amount") - F("refunded_amount")), n=Count("pk"))
        .values_list("customer_id", "t", "n")
        .order_by()
    ):
        spend[customer_id] += total or Decimal(0)
        orders[customer_id] += count
    # Returns beyond what the platform reported on the order itself.
    for customer_id, extra in (
        Return.objects.filter(order__in=window, order__refunded_amount=0)
        .values("order__customer_id")
        .annotate(s=Sum("amount"))
        .values_list("order__customer_id", "s")
        .order_by()
    ):
        spend[customer_id] -= extra or Decimal(0)
    points = dict(
        Movement.objects.filter(
            programme=programme,
            kind__in=[Movement.Kind.EARN, Movement.Kind.REVERSE],
            occurred_at__gt=since,
            occurred_at__lte=now,
        )
        .values("customer_id")
        .annotate(s=Sum("points"))
        .values_list("customer_id", "s")
        .order_by()
    )
    rank_of = {tier.pk: tier.rank for tier in ladder}
    moves: dict[int, list[tuple[int, int, Figures]]] = defaultdict(
        list
    )  # target tier -> (membership, from tier, figures)
    members = Membership.objects.filter(programme=programme).values_list("pk", "customer_id", "tier_id")
    for membership_id, customer_id, tier_id in members.iterator(chunk_size=20_000):
        values = Figures(
            round_money(spend.get(customer_id, Decimal(0))),
            orders.get(customer_id, 0),
            int(points.get(customer_id) or 0),
        )
        target = qualified_tier(ladder, values)
        if target.rank > rank_of[tier_id]:
            moves[target.pk].append((membership_id, tier_id, values))
        if progress is not None:
            progress(1)
    review_at = months_later(programme, now, programme.review_months)
    upgraded = 0
    for target_id, rows in moves.items():
        with transaction.atomic():
            for start in range(0, len(rows), 10_000):
                part = rows[start : start + 10_000]
                Membership.objects.filter(pk__in=[r[0] for r in part]).update(
                    tier_id=target_id, tier_since=now, review_at=review_at, grace_until=None
                )
            customers = dict(
                Membership.objects.filter(pk__in=[r[0] for r in rows]).values_list("pk", "customer_id")
            )
            TierChange.objects.bulk_create(
                [
                    TierChange(
                        programme=programme,
                        customer_id=customers[membership_id],
                        from_tier_id=from_tier,
                        to_tier_id=target_id,
                        reason=TierChange.Reason.UPGRADE,
                        changed_at=now,
                        figures=values.as_json(),
                    )
                    for membership_id, from_tier, values in rows
                ],
                batch_size=5000,
            )
        upgraded += len(rows)
    return upgraded
