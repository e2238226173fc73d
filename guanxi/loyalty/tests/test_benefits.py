"""Tier benefits applied: the points multiplier at earn time and the birthday gift on the day, once a
year; and coupons issued under a key (a campaign send retried) given once."""

from datetime import date

import pytest

from guanxi.commerce.tests.factories import make_customer
from guanxi.loyalty import actions, earning, ledger, tiers
from guanxi.loyalty.models import CouponCode, Membership, Movement, Tier, TierChange
from guanxi.loyalty.tests.conftest import at

pytestmark = pytest.mark.django_db


def test_a_gold_member_earns_with_the_tiers_multiplier(programme, person, send_order):
    gold = Tier.objects.get(programme=programme, rank=1)
    Tier.objects.filter(pk=gold.pk).update(points_multiplier="1.5")
    send_order(person, "T1", "100.00", at(2026, 3, 1, 10))
    earning.follow_changes(now=at(2026, 3, 1, 11))
    Membership.objects.filter(customer=person).update(tier=gold)

    send_order(person, "T2", "199.90", at(2026, 3, 5, 10))
    earning.follow_changes(now=at(2026, 3, 5, 11))

    assert list(Movement.objects.order_by("occurred_at").values_list("points", flat=True)) == [100, 299]
    assert ledger.balance(programme.pk, person.pk) == 399


def test_the_birthday_gift_is_credited_on_the_day_in_shanghai_once_a_year(programme, unit_a):
    Tier.objects.filter(programme=programme, rank=0).update(birthday_points=88)
    Tier.objects.filter(programme=programme, rank=1).update(birthday_points=188)
    born_today = make_customer("李雷", [unit_a], birthday=date(1990, 6, 15))
    leap = make_customer("韩梅梅", [unit_a], birthday=date(1992, 2, 29))
    other_day = make_customer("张伟", [unit_a], birthday=date(1990, 6, 16))
    for customer in (born_today, leap, other_day):
        actions.enrol(programme, customer, now=at(2026, 1, 2))
    Membership.objects.filter(customer=born_today).update(tier=Tier.objects.get(programme=programme, rank=1))

    # 00:30 on 15 June in Shanghai is still 14 June in UTC: the unit's day counts.
    assert actions.grant_birthday_points(now=at(2026, 6, 15, 0, 30)) == 1
    assert actions.grant_birthday_points(now=at(2026, 6, 15, 20)) == 0
    assert actions.grant_birthday_points(now=at(2026, 2, 28, 9)) == 1  # 2026 has no 29 February
    assert actions.grant_birthday_points(now=at(2027, 6, 15, 9)) == 1

    assert ledger.balance(programme.pk, born_today.pk) == 376
    assert ledger.balance(programme.pk, leap.pk) == 88
    assert ledger.balance(programme.pk, other_day.pk) == 0
    assert sorted(Movement.objects.filter(kind="bonus").values_list("key", "points")) == [
        (f"birthday:{born_today.pk}:2026", 188),
        (f"birthday:{born_today.pk}:2027", 188),
        (f"birthday:{leap.pk}:2026", 88),
    ]
    assert actions.check_ledger() == []


def test_issuing_again_under_the_same_key_issues_nothing_twice(programme, person, unit_a):
    other = make_customer("李雷", [unit_a])
    spend = actions.save_coupon_template(
        programme, name="回归券", kind="spend_save", min_spend=100, amount_off=20, valid_days=7
    )
    actions.generate_coupon_codes(spend, 5)

    first = actions.issue_coupons(spend, [person.pk], key="campaign-7", now=at(2026, 5, 1))
    again = actions.issue_coupons(spend, [person.pk, other.pk], key="campaign-7", now=at(2026, 5, 2))
    other_send = actions.issue_coupons(spend, [person.pk], key="campaign-8", now=at(2026, 5, 3))
    unkeyed = actions.issue_coupons(spend, [person.pk], now=at(2026, 5, 3))

    assert [c.customer_id for c in first] == [person.pk]
    assert [(c.pk, c.customer_id) for c in again] == [(first[0].pk, person.pk), (again[1].pk, other.pk)]
    assert again[1].pk != first[0].pk
    assert (len(other_send), len(unkeyed)) == (1, 1)
    assert sorted(
        CouponCode.objects.filter(state="issued").values_list("customer_id", "issue_key")
    ) == sorted(
        [(person.pk, "campaign-7"), (other.pk, "campaign-7"), (person.pk, "campaign-8"), (person.pk, "")]
    )


def test_set_based_tier_recalculation_lands_each_member_on_the_highest_tier_they_qualify_for(
    programme, person, unit_a, send_order
):
    second = make_customer("李雷", [unit_a], phone="+8613800002222")
    ladder = list(Tier.objects.filter(programme=programme).order_by("rank"))
    send_order(person, "T1", "100.00", at(2026, 3, 1, 10))
    send_order(second, "T2", "100.00", at(2026, 3, 1, 10))
    earning.follow_changes(now=at(2026, 3, 1, 11))
    # The ladder is raised under their feet; then a bulk recalculation with new thresholds.
    Tier.objects.filter(pk=ladder[1].pk).update(min_spend=0, min_orders=1, min_points=0)
    Tier.objects.filter(pk=ladder[2].pk).update(min_spend=50, min_orders=0, min_points=0, match="all")
    Tier.objects.filter(pk=ladder[3].pk).update(min_spend=100, min_orders=2, min_points=0, match="all")

    assert tiers.recalculate(programme, at(2026, 3, 2)) == 2

    assert sorted(Membership.objects.values_list("tier__rank", flat=True)) == [2, 2]
    upgrades = TierChange.objects.filter(reason="upgrade").order_by("customer_id")
    assert [(c.from_tier_id, c.to_tier_id, c.figures) for c in upgrades] == [
        (ladder[0].pk, ladder[2].pk, {"spend": "100.00", "orders": 1, "points": 100}),
        (ladder[0].pk, ladder[2].pk, {"spend": "100.00", "orders": 1, "points": 100}),
    ]


def test_a_tiers_exclusive_coupon_is_given_once_to_each_member_who_reaches_it(
    programme, person, unit_a, send_order
):
    second = make_customer("李雷", [unit_a], phone="+8613800002222")
    gold = Tier.objects.get(programme=programme, rank=1)  # 金卡: ¥1,000 in the window
    welcome = actions.save_coupon_template(
        programme, name="金卡专享券", kind="spend_save", min_spend=300, amount_off=50, valid_days=30
    )
    Tier.objects.filter(pk=gold.pk).update(exclusive_coupon=welcome)

    # An order that qualifies: upgraded on earning, one at a time.
    send_order(person, "T1", "1200.00", at(2026, 3, 1, 10))
    earning.follow_changes(now=at(2026, 3, 1, 11))
    # Another member reaches 金卡 when the ladder is lowered and the bulk recalculation runs.
    send_order(second, "T2", "800.00", at(2026, 3, 1, 10))
    earning.follow_changes(now=at(2026, 3, 1, 11))
    Tier.objects.filter(pk=gold.pk).update(min_spend=500)
    assert tiers.recalculate(programme, at(2026, 3, 2)) == 1
    # Falling back and qualifying again, or recalculating again, gives no second coupon.
    Membership.objects.filter(customer=second).update(tier=Tier.objects.get(programme=programme, rank=0))
    assert tiers.recalculate(programme, at(2026, 3, 3)) == 1
    assert tiers.recalculate(programme, at(2026, 3, 4)) == 0

    held = CouponCode.objects.filter(template=welcome).order_by("customer_id")
    assert [(c.customer_id, c.state, c.issue_key, c.issued_at) for c in held] == [
        (person.pk, "issued", f"tier:{gold.pk}", at(2026, 3, 1, 11)),
        (second.pk, "issued", f"tier:{gold.pk}", at(2026, 3, 2)),
    ]
    assert held[0].expires_at == at(2026, 3, 31, 11)


def test_an_inactive_exclusive_coupon_is_not_given(programme, person, send_order):
    gold = Tier.objects.get(programme=programme, rank=1)
    paused = actions.save_coupon_template(
        programme, name="暂停券", kind="percent_off", percent_off=10, valid_days=7, active=False
    )
    Tier.objects.filter(pk=gold.pk).update(exclusive_coupon=paused)

    send_order(person, "T1", "1200.00", at(2026, 3, 1, 10))
    earning.follow_changes(now=at(2026, 3, 1, 11))

    assert Membership.objects.get(customer=person).tier_id == gold.pk
    assert CouponCode.objects.filter(template=paused).count() == 0
