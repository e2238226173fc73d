"""Effect of a campaign: what the treated did against the holdout within the attribution window.

Incremental revenue = (revenue per treated − revenue per held-out customer) × treated customers,
with a 95 % normal interval (Welch); incremental conversions likewise. Costs are the discounts of the
campaign's coupons redeemed in the window and the messages sent × the cost per message; ROI is
(incremental revenue − cost) / cost. Last-touch revenue (everything the treated bought) is shown
beside it, labelled as such, because it overstates. A/B: conversion of A against B by a two-proportion
z-test at the campaign's significance level."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import F, Sum

from guanxi.commerce.models import Order
from guanxi.marketing import stats
from guanxi.marketing.models import Campaign, Recipient

SENT_STATES = ("sent", "delivered", "unknown")
TWO = Decimal("0.01")


@dataclass
class GroupFigures:
    customers: int = 0
    converted: int = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0

    @property
    def rate(self) -> float:
        return self.converted / self.customers if self.customers else 0.0

    @property
    def revenue_per_customer(self) -> float:
        return self.revenue / self.customers if self.customers else 0.0


@dataclass
class Effect:
    treated: GroupFigures
    holdout: GroupFigures
    a: GroupFigures
    b: GroupFigures
    incremental_revenue: Decimal
    incremental_low: Decimal | None  # None: too few customers in a group for an interval
    incremental_high: Decimal | None
    incremental_conversions: float
    conversion_test: stats.ZTest
    coupon_cost: Decimal
    message_cost: Decimal
    messages_sent: int
    last_touch_revenue: Decimal
    ab_test: stats.ZTest | None
    winner: str

    @property
    def cost(self) -> Decimal:
        return self.coupon_cost + self.message_cost

    @property
    def roi(self) -> Decimal | None:
        if not self.cost:
            return None
        return ((self.incremental_revenue - self.cost) / self.cost).quantize(TWO)


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(TWO)


def analyse(campaign: Campaign) -> Effect | None:
    if campaign.sent_at is None:
        return None
    start = campaign.sent_at
    end = start + timedelta(days=campaign.attribution_days)
    groups = dict(Recipient.objects.filter(campaign=campaign).values_list("customer_id", "group"))
    revenue: dict[int, float] = defaultdict(float)
    orders = (
        Order.objects.filter(
            unit_id=campaign.unit_id,
            customer_id__in=Recipient.objects.filter(campaign=campaign).values("customer_id"),
            paid_at__gte=start,
            paid_at__lt=end,
            status__in=Order.SALE_STATUSES,
        )
        .values("customer_id")
        .annotate(net=Sum(F("total_amount") - F("refunded_amount")))
    )
    buyers: set[int] = set()
    for row in orders:
        revenue[row["customer_id"]] = float(row["net"] or 0)
        buyers.add(row["customer_id"])
    figures = {key: GroupFigures() for key in ("treated", "holdout", "a", "b")}
    for customer_id, group in groups.items():
        names = ["holdout"] if group == Recipient.Group.HOLDOUT else ["treated", group]
        value = revenue.get(customer_id, 0.0)
        for name in names:
            f = figures[name]
            f.customers += 1
            f.converted += customer_id in buyers
            f.revenue += value
            f.revenue_sq += value * value
    treated, control = figures["treated"], figures["holdout"]
    difference = stats.mean_difference(
        treated.customers,
        treated.revenue,
        treated.revenue_sq,
        control.customers,
        control.revenue,
        control.revenue_sq,
    )
    from guanxi.loyalty.models import CouponCode
    from guanxi.messaging.models import Message

    codes = Recipient.objects.filter(campaign=campaign).exclude(coupon_code="").values("coupon_code")
    coupon_cost = CouponCode.objects.filter(
        code__in=codes, state=CouponCode.State.REDEEMED, redeemed_at__lt=end
    ).aggregate(total=Sum("discount"))["total"] or Decimal(0)
    sent = Message.objects.filter(source=f"campaign:{campaign.pk}", state__in=SENT_STATES).count()
    ab = None
    winner = ""
    if figures["b"].customers and figures["a"].customers:
        a, b = figures["a"], figures["b"]
        ab = stats.two_proportion_z(a.converted, a.customers, b.converted, b.customers)
        if ab.significant(float(campaign.significance)):
            winner = "b" if ab.z > 0 else "a"
    n = treated.customers
    finite = difference.low != float("-inf")
    return Effect(
        treated=treated,
        holdout=control,
        a=figures["a"],
        b=figures["b"],
        incremental_revenue=_money(difference.difference * n),
        incremental_low=_money(difference.low * n) if finite else None,
        incremental_high=_money(difference.high * n) if finite else None,
        incremental_conversions=(treated.rate - control.rate) * n,
        conversion_test=stats.two_proportion_z(control.converted, control.customers, treated.converted, n),
        coupon_cost=Decimal(coupon_cost).quantize(TWO),
        message_cost=(campaign.message_cost * sent).quantize(TWO),
        messages_sent=sent,
        last_touch_revenue=_money(treated.revenue),
        ab_test=ab,
        winner=winner,
    )
