"""Campaigns: the holdout receives nothing and is stable across re-runs; A/B winners by a
two-proportion z-test at the stated power and false-winner rate; the incremental revenue of a
synthetic campaign with a known lift lies within its interval."""

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from guanxi.commerce.models import Order
from guanxi.core.models import AuditEntry
from guanxi.customers.models import Consent, Customer, CustomerUnit, Identity
from guanxi.loyalty import actions as loyalty
from guanxi.loyalty.models import CouponCode
from guanxi.marketing import actions, campaigns, effect, stats
from guanxi.marketing.models import Campaign, Recipient
from guanxi.marketing.tests.conftest import t
from guanxi.messaging.models import Message
from guanxi.segments.models import Segment, SegmentMembership

pytestmark = pytest.mark.django_db


def audience(unit, n, name="母亲节人群"):
    """`n` customers of `unit` with phones, all members of a static segment."""
    customers = Customer.objects.bulk_create([Customer(name=f"顾客{i}") for i in range(n)])
    CustomerUnit.objects.bulk_create([CustomerUnit(customer=c, unit=unit) for c in customers])
    Identity.objects.bulk_create(
        [
            Identity(customer=c, kind=Identity.Kind.PHONE, value=f"+86137{i:08d}", source="test")
            for i, c in enumerate(customers)
        ]
    )
    Consent.objects.bulk_create(
        [
            Consent(
                customer=c,
                channel="sms",
                state=Consent.State.GRANTED,
                method=Consent.Method.DOUBLE_OPT_IN,
                recorded_at=t(-60 * 24 * 30),
                source="signup",
            )
            for c in customers
        ]
    )
    segment = Segment.objects.create(name=name, kind=Segment.Kind.STATIC, unit=unit)
    SegmentMembership.objects.bulk_create([SegmentMembership(segment=segment, customer=c) for c in customers])
    return segment, [c.pk for c in customers]


@pytest.fixture
def coupon(unit_a):
    programme = loyalty.create_programme(unit=unit_a, name="会员计划")
    return loyalty.save_coupon_template(
        programme, name="母亲节满199减30", kind="spend_save", min_spend=199, amount_off=30, valid_days=14
    )


def test_the_holdout_receives_nothing_and_stays_the_same_across_re_runs(unit_a, sms, coupon, manager):
    segment, ids = audience(unit_a, 400)
    with time_machine.travel(t(0), tick=False):
        campaign = actions.save_campaign(
            unit=unit_a, actor=manager, name="母亲节", segment=segment, template="coupon_gift", coupon=coupon
        )
        actions.submit(campaign, actor=manager)
        assert campaign.status == Campaign.Status.SCHEDULED
        first = actions.send_campaign(campaign, actor=manager)
        again = actions.send_campaign(campaign, actor=manager)  # a re-run (crash recovery) sends nothing more
    groups = dict(Recipient.objects.filter(campaign=campaign).values_list("customer_id", "group"))
    held = {pk for pk, group in groups.items() if group == Recipient.Group.HOLDOUT}
    treated = set(ids) - held
    assert len(groups) == 400 and 20 <= len(held) <= 60  # 10 % by a hash of each customer
    assert held == {pk for pk in ids if campaigns.group_of(campaign, pk) == "holdout"}
    assert first == {"coupons": len(treated), "messages": len(treated)} and again == {
        "coupons": 0,
        "messages": 0,
    }
    assert Message.objects.filter(customer_id__in=held).count() == 0
    assert CouponCode.objects.filter(customer_id__in=held).count() == 0
    assert (
        set(Message.objects.filter(source=f"campaign:{campaign.pk}").values_list("customer_id", flat=True))
        == treated
    )
    assert CouponCode.objects.filter(customer_id__in=treated).count() == len(treated)
    # Each message names its recipient's own code.
    codes = dict(
        Recipient.objects.filter(campaign=campaign, group="a").values_list("customer_id", "coupon_code")
    )
    for customer_id, body in Message.objects.filter(source=f"campaign:{campaign.pk}").values_list(
        "customer_id", "body"
    ):
        assert body == f"送您优惠券 {codes[customer_id]}。回复TD退订"


def test_a_marketer_without_publish_permission_needs_approval(unit_a, sms, make_user, unit_a_head):
    from guanxi.accounts.roles import Role

    marketer = make_user("marketer", Role.MARKETER, [unit_a])
    segment, _ids = audience(unit_a, 5)
    campaign = actions.save_campaign(unit=unit_a, name="草稿", segment=segment, template="promo")
    actions.submit(campaign, actor=marketer)
    assert campaign.status == Campaign.Status.AWAITING_APPROVAL
    with pytest.raises(ValidationError):
        actions.send_campaign(campaign)
    with pytest.raises(PermissionDenied):
        actions.approve(campaign, actor=marketer)
    actions.approve(campaign, actor=unit_a_head)
    assert campaign.status == Campaign.Status.SCHEDULED and campaign.approved_by == unit_a_head


def test_the_ab_test_finds_a_true_lift_at_its_power_and_rarely_a_false_winner():
    rng = np.random.default_rng(20260510)
    n, base, lifted, alpha, runs = 2000, 0.10, 0.13, 0.05, 1000
    # The power of the two-sided test at this size and lift (normal approximation).
    pooled = (base + lifted) / 2
    se0 = (2 * pooled * (1 - pooled) / n) ** 0.5
    se1 = (base * (1 - base) / n + lifted * (1 - lifted) / n) ** 0.5
    power = 1 - stats.normal_cdf((stats.Z_95 * se0 - (lifted - base)) / se1)
    assert 0.83 < power < 0.86
    found = sum(
        stats.two_proportion_z(int(rng.binomial(n, base)), n, int(rng.binomial(n, lifted)), n).significant(
            alpha
        )
        for _ in range(runs)
    )
    assert abs(found / runs - power) < 3 * (power * (1 - power) / runs) ** 0.5
    false = sum(
        stats.two_proportion_z(int(rng.binomial(n, base)), n, int(rng.binomial(n, base)), n).significant(
            alpha
        )
        for _ in range(runs * 2)
    )
    assert false / (runs * 2) <= alpha + 3 * (alpha * (1 - alpha) / (runs * 2)) ** 0.5


def test_incremental_revenue_of_a_synthetic_campaign_with_a_known_lift(unit_a, store, sms, coupon, manager):
    segment, _ids = audience(unit_a, 3000)
    with time_machine.travel(t(0), tick=False):
        campaign = actions.save_campaign(
            unit=unit_a,
            actor=manager,
            name="母亲节",
            segment=segment,
            template="promo",
            template_b="promo_b",
            coupon=coupon,
            holdout_percent=Decimal(30),
            b_percent=Decimal(50),
            message_cost=Decimal("0.05"),
        )
        actions.submit(campaign, actor=manager)
        actions.send_campaign(campaign, actor=manager)
    campaign.refresh_from_db()
    groups = dict(Recipient.objects.filter(campaign=campaign).values_list("customer_id", "group"))
    # Buyers: exactly 10 % of the holdout, 15 % of variant A, 25 % of variant B (rounded), each order
    # 200 yuan; every 50th of the others orders after the attribution window, which does not count.
    # Exact shares, not random draws: which customer falls in which group follows their ids, which
    # differ from run to run, and a 95 % interval misses a sampled lift one run in twenty.
    rate = {"holdout": 0.10, "a": 0.15, "b": 0.25}
    members: dict[str, list[int]] = {"holdout": [], "a": [], "b": []}
    for customer_id, group in sorted(groups.items()):
        members[group].append(customer_id)
    orders, bought = [], {}
    for group, ids in members.items():
        for rank, customer_id in enumerate(ids):
            if rank < round(rate[group] * len(ids)):
                bought[customer_id] = group
                orders.append(
                    _order(store, customer_id, f"M{customer_id}", campaign.sent_at + timedelta(days=2))
                )
            elif rank % 50 == 0:
                late = campaign.sent_at + timedelta(days=9)
                orders.append(_order(store, customer_id, f"LATE{customer_id}", late))
    Order.objects.bulk_create(orders)
    result = effect.analyse(campaign)
    assert result is not None
    n_holdout = sum(1 for g in groups.values() if g == "holdout")
    n_treated = len(groups) - n_holdout
    buyers_t = sum(1 for g in bought.values() if g != "holdout")
    buyers_h = sum(1 for g in bought.values() if g == "holdout")
    # Exact figures from the data…
    assert (result.treated.customers, result.holdout.customers) == (n_treated, n_holdout)
    assert (result.treated.converted, result.holdout.converted) == (buyers_t, buyers_h)
    expected = Decimal(str(round((buyers_t * 200 / n_treated - buyers_h * 200 / n_holdout) * n_treated, 2)))
    assert result.incremental_revenue == expected.quantize(Decimal("0.01"))
    assert result.last_touch_revenue == Decimal(buyers_t * 200).quantize(Decimal("0.01"))
    # …and the known true lift inside the 95 % interval: (share A × 15 % + share B × 25 % − 10 %) × 200 per treated.
    n_a = sum(1 for g in groups.values() if g == "a")
    true_lift = ((n_a * 0.15 + (n_treated - n_a) * 0.25) / n_treated - 0.10) * 200 * n_treated
    assert result.incremental_low is not None and result.incremental_high is not None
    assert result.incremental_low < Decimal(str(true_lift)) < result.incremental_high
    assert result.conversion_test.significant(0.05) and result.conversion_test.z > 0
    # A/B: B converts better by 10 points at about 1,000 each: the z-test names B the winner.
    assert result.winner == "b" and result.ab_test is not None and result.ab_test.p_value < 0.05
    assert result.message_cost == Decimal("0.00")  # no message was sent yet (the outbox has not run)
    assert result.roi is None


def _order(store, customer_id, number, paid):
    return Order(
        store=store,
        unit=store.unit,
        customer_id=customer_id,
        source=store.source,
        external_id=number,
        number=number,
        status=Order.Status.PAID,
        total_amount=Decimal("200.00"),
        placed_at=paid,
        paid_at=paid,
    )


def test_the_winner_of_an_a_b_test_on_a_share_is_sent_to_the_rest_once_significant(
    unit_a, sms, store, manager
):
    from guanxi.commerce.tests.factories import make_order

    segment, _ids = audience(unit_a, 600)
    with time_machine.travel(t(0), tick=False) as clock:
        campaign = actions.save_campaign(
            unit=unit_a,
            actor=manager,
            name="母亲节 A/B",
            segment=segment,
            template="promo",
            template_b="promo_b",
            b_percent=50,
            auto_send_winner=True,
            test_percent=30,
        )
        actions.submit(campaign, actor=manager)
        actions.send_campaign(campaign, actor=manager)
        groups = dict(Recipient.objects.filter(campaign=campaign).values_list("customer_id", "group"))
        rest = {pk for pk, group in groups.items() if group == "rest"}
        in_b = {pk for pk, group in groups.items() if group == "b"}
        in_a = {pk for pk, group in groups.items() if group == "a"}
        assert 300 <= len(rest) <= 450 and in_a and in_b
        assert Message.objects.filter(customer_id__in=rest).count() == 0
        assert campaigns.send_winners() == 0  # nobody bought yet: no winner
        clock.move_to(t(60))
        for pk in in_b:  # variant B converts everyone, A nobody
            order = make_order(store, Customer.objects.get(pk=pk), f"B{pk}", "199.00", (2026, 1, 1))
            Order.objects.filter(pk=order.pk).update(placed_at=t(60), paid_at=t(60))
        assert campaigns.send_winners() == 1
        assert campaigns.send_winners() == 0
    campaign.refresh_from_db()
    assert (campaign.winner, campaign.winner_sent_at) == ("b", t(60))
    to_rest = Message.objects.filter(customer_id__in=rest, source=f"campaign:{campaign.pk}")
    assert to_rest.count() == len(rest)
    assert set(to_rest.values_list("template__key", flat=True)) == {"promo_b"}
    result = effect.analyse(campaign)
    assert result.treated.customers == len(rest) + len(in_a) + len(in_b)
    assert (result.a.customers, result.b.customers) == (len(in_a), len(in_b))


def test_a_segment_a_campaign_sends_to_cannot_be_deleted_and_says_why(client, unit_a, manager):
    """Found by the long fuzz run: deleting it was a 500 (the campaign protects its segment)."""
    segment, _ids = audience(unit_a, 3)
    actions.save_campaign(unit=unit_a, name="母亲节关怀", segment=segment, template="promo")
    client.force_login(manager)

    refused = client.delete(f"/api/v1/segments/{segment.pk}")

    assert refused.status_code == 409
    assert refused.json()["detail"] == "In use, delete or change these first: 母亲节关怀."
    assert Segment.objects.filter(pk=segment.pk).exists()
    assert not AuditEntry.objects.filter(action="delete", object_id=str(segment.pk)).exists()
