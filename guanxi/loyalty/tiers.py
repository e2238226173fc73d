"""Tier qualification: a member's figures over the programme's rolling window, the highest tier they
meet, an immediate upgrade, and the review that downgrades after a grace period."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Sum

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
