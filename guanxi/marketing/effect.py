"""Effect of a campaign: what the treated did against the holdout within the attribution window.

Incremental revenue = (revenue per treated − revenue per held-out customer) × treated customers,
with a 95 % normal interval (Welch); incremental conversions likewise. Costs are the discounts of the
campaign's coupons redeemed in the window and the messages sent × the cost per message; ROI is
(incremental revenue − cost) / cost. Last-touch revenue (everything the treated bought) is shown
beside it, labelled as such, because it overstates. A/B: conversion of A against B by a two-proportion
z-test at the campaign's significance level.

A flow's effect is the same comparison per enrolment: the orders each enrolled customer paid within
the flow's attribution window after entering, treated enrolments against the held-out ones (its own
holdout and the unit's global one); coupon cost is the discount of the codes its coupon steps issued
and redeemed, message cost its messages sent; A/B is path A against path B of its random split."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import F, Sum

from guanxi.commerce.models import Order
from guanxi.marketing import stats
from guanxi.marketing.models import Campaign, Enrolment, Flow, Recipient, StepRun

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
    from guanxi.loyalty.models import CouponCode
    from guanxi.messaging.models import Message

    codes = Recipient.objects.filter(campaign=campaign).exclude(coupon_code="").values("coupon_code")
    coupon_cost = CouponCode.objects.filter(
        code__in=codes, state=CouponCode.State.REDEEMED, redeemed_at__lt=end
    ).aggregate(total=Sum("discount"))["total"] or Decimal(0)
    sent = Message.objects.filter(source=f"campaign:{campaign.pk}", state__in=SENT_STATES).count()
    # The rest of an auto-sent A/B test are treated once the winner reached them (their window starts
    # with the campaign's, so they count as treated from the send); before that they are left out.
    members = [
        (group, revenue.get(customer_id, 0.0), customer_id in buyers)
        for customer_id, group in groups.items()
        if group != Recipient.Group.REST or campaign.winner_sent_at is not None
    ]
    return _summarise(members, Decimal(coupon_cost), sent, campaign.message_cost, campaign.significance)


def analyse_flow(flow: Flow) -> Effect | None:
    """The flow's effect over its enrolments so far (None before anyone entered)."""
    enrolments = list(
        Enrolment.objects.filter(flow=flow).values_list("customer_id", "state", "variant", "entered_at")
    )
    if not enrolments:
        return None
    window = timedelta(days=flow.attribution_days)
    first = min(row[3] for row in enrolments)
    last = max(row[3] for row in enrolments) + window
    paid: dict[int, list[tuple]] = defaultdict(list)
    for customer_id, moment, net in Order.objects.filter(
        unit_id=flow.unit_id,
        customer_id__in=Enrolment.objects.filter(flow=flow).values("customer_id"),
        paid_at__gte=first,
        paid_at__lt=last,
        status__in=Order.SALE_STATUSES,
    ).values_list("customer_id", "paid_at", F("total_amount") - F("refunded_amount")):
        paid[customer_id].append((moment, float(net or 0)))
    members = []
    for customer_id, state, variant, entered in enrolments:
        bought = [net for moment, net in paid.get(customer_id, []) if entered <= moment < entered + window]
        group = Recipient.Group.HOLDOUT if state == Enrolment.State.HOLDOUT else (variant or "a")
        members.append((group, sum(bought), bool(bought)))
    from guanxi.loyalty.models import CouponCode
    from guanxi.messaging.models import Message

    codes = [
        detail.get("code")
        for detail in StepRun.objects.filter(
            enrolment__flow=flow, kind="coupon", outcome=StepRun.Outcome.DONE
        )
        .values_list("detail", flat=True)
        .iterator()
        if detail.get("code")
    ]
    coupon_cost = CouponCode.objects.filter(
        code__in=codes, state=CouponCode.State.REDEEMED, redeemed_at__lt=last
    ).aggregate(total=Sum("discount"))["total"] or Decimal(0)
    sent = Message.objects.filter(source=f"flow:{flow.pk}", state__in=SENT_STATES).count()
    return _summarise(members, Decimal(coupon_cost), sent, flow.message_cost, Decimal("0.05"))


def _summarise(
    members: list[tuple[str, float, bool]],
    coupon_cost: Decimal,
    sent: int,
    message_cost: Decimal,
    significance: Decimal,
) -> Effect:
    """Treated against holdout, A against B, from (group, revenue in the window, converted) per member."""
    figures = {key: GroupFigures() for key in ("treated", "holdout", "a", "b")}
    for group, value, converted in members:
        names = ["holdout"] if group == Recipient.Group.HOLDOUT else ["treated", group]
        if group == Recipient.Group.REST:
            names = ["treated"]
        for name in names:
            f = figures[name]
            f.customers += 1
            f.converted += converted
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
    ab = None
    winner = ""
    if figures["b"].customers and figures["a"].customers:
        a, b = figures["a"], figures["b"]
        ab = stats.two_proportion_z(a.converted, a.customers, b.converted, b.customers)
        if ab.significant(float(significance)):
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
        coupon_cost=coupon_cost.quantize(TWO),
        message_cost=(message_cost * sent).quantize(TWO),
        messages_sent=sent,
        last_touch_revenue=_money(treated.revenue),
        ab_test=ab,
        winner=winner,
    )
