"""The demo's loyalty: a programme per unit whose history is backfilled from the demo orders (an earn
rule change half a year ago, returns reversed, the oldest points expired), a ladder set on the
shop's own spend so every tier has members, a few manual adjustments and redemptions, and coupons
of the four kinds issued and redeemed on later orders."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Min
from django.utils import timezone

from guanxi.accounts.models import BusinessUnit
from guanxi.commerce.models import Order, OrderLine
from guanxi.demo.seasons import SHANGHAI
from guanxi.loyalty import actions, earning, tiers
from guanxi.loyalty.models import CouponCode, Membership, Tier


@dataclass(frozen=True)
class LoyaltyDemo:
    programmes: int
    members: int
    movements: int
    coupons_redeemed: int


def load_loyalty_demo(anchor: datetime | None = None, *, seed: int) -> LoyaltyDemo:
    anchor = anchor or timezone.now().astimezone(SHANGHAI).replace(second=0, microsecond=0)
    rng = random.Random(seed * 13 + 34)
    members = movements = redeemed = programmes = 0
    for unit in BusinessUnit.objects.order_by("code"):
        first = Order.objects.filter(unit=unit, paid_at__isnull=False).aggregate(m=Min("paid_at"))["m"]
        if first is None:
            continue
        programmes += 1
        name = f"{unit.name}会员"
        programme = actions.create_programme(unit=unit, name=name, now=first - timedelta(days=1))
        top = (
            OrderLine.objects.filter(unit=unit)
            .exclude(category="")
            .values("category")
            .annotate(n=Count("pk"))
            .order_by("-n")
            .values_list("category", flat=True)
            .first()
        )
        change = anchor - timedelta(days=180)
        if change > first:
            actions.add_rule_version(
                programme,
                effective_from=change,
                now=change,
                points_per_yuan=Decimal(1),
                delay_days=7,
                max_points_per_order=20000,
                category_multipliers={top: "2"} if top else {},
            )
        result = earning.backfill(programme, now=anchor)
        members += result.members
        movements += result.movements
        _ladder_on_spend(programme, anchor)
        tiers.recalculate(programme, anchor)
        actions.expire_points(now=anchor, programme=programme)
        redeemed += _coupons(programme, rng, anchor)
        _adjustments(programme, rng, anchor)
    return LoyaltyDemo(programmes=programmes, members=members, movements=movements, coupons_redeemed=redeemed)


def _ladder_on_spend(programme, anchor: datetime) -> None:
    """金卡, 白金卡 and 钻石卡 at the 60th, 85th and 97th percentile of the members' window spend,
    rounded to ¥100, so a small shop has members in every tier."""
    spends = sorted(
        tiers.figures(programme, customer_id, anchor).spend
        for customer_id in Membership.objects.filter(programme=programme).values_list(
            "customer_id", flat=True
        )
    )
    if len(spends) < 4:
        return
    last = Decimal(0)
    for rank, share in ((1, 0.60), (2, 0.85), (3, 0.97)):
        value = spends[min(len(spends) - 1, int(len(spends) * share))]
        value = max(last + 100, (value / 100).quantize(Decimal(1)) * 100)
        Tier.objects.filter(programme=programme, rank=rank).update(min_spend=value)
        last = value


def _coupons(programme, rng: random.Random, anchor: datetime) -> int:
    issued_at = anchor - timedelta(days=30)
    kinds: tuple[tuple[str, dict[str, Any]], ...] = (
        (
            "满200减30",
            {"kind": "spend_save", "min_spend": Decimal(200), "amount_off": Decimal(30), "valid_days": 30},
        ),
        ("会员9折", {"kind": "percent_off", "percent_off": Decimal(10), "valid_days": 30}),
        ("买二送一", {"kind": "buy_get", "buy_quantity": 2, "free_quantity": 1, "valid_days": 30}),
        (
            "消费返50积分",
            {"kind": "cashback", "cashback_points": 50, "min_spend": Decimal(100), "valid_days": 30},
        ),
    )
    customers = list(
        Order.objects.filter(
            unit=programme.unit, paid_at__gte=issued_at, paid_at__lte=anchor, customer__isnull=False
        )
        .values_list("customer_id", flat=True)
        .distinct()
        .order_by("customer_id")
    )
    members = set(Membership.objects.filter(programme=programme).values_list("customer_id", flat=True))
    customers = [pk for pk in customers if pk in members]
    redeemed = 0
    for name, values in kinds:
        template = actions.save_coupon_template(programme, name=name, **values)
        actions.generate_coupon_codes(template, 200)
        chosen = rng.sample(customers, min(len(customers), 12))
        for code in actions.issue_coupons(template, chosen, now=issued_at):
            if code.customer_id is None:
                continue
            order = (
                Order.objects.filter(customer_id=code.customer_id, unit=programme.unit, paid_at__gt=issued_at)
                .order_by("paid_at")
                .first()
            )
            if order is not None and rng.random() < 0.6:
                redeemed += actions.redeem_coupon(code.code, order, now=order.paid_at)
    CouponCode.objects.filter(template__programme=programme, state="issued", expires_at__lte=anchor).update(
        state="expired"
    )
    return redeemed


def _adjustments(programme, rng: random.Random, anchor: datetime) -> None:
    members = list(Membership.objects.filter(programme=programme).order_by("pk")[:40])
    for membership in rng.sample(members, min(3, len(members))):
        actions.adjust_points(
            programme, membership.customer, 200, reason="物流延误补偿", now=anchor - timedelta(days=3)
        )
    for membership in rng.sample(members, min(5, len(members))):
        try:
            actions.redeem_points(
                programme, membership.customer, 100, reason="积分兑换礼品", now=anchor - timedelta(days=1)
            )
        except actions.LedgerError:
            continue
