"""Tiers: immediate upgrade on the rolling window, downgrade only at review after the grace period."""

from decimal import Decimal

import pytest
import time_machine

from guanxi.commerce.tests.factories import make_customer
from guanxi.core.background import create_job, run_job
from guanxi.loyalty import actions, earning
from guanxi.loyalty.models import Lot, Membership, Tier, TierChange
from guanxi.loyalty.tests.conftest import at

pytestmark = pytest.mark.django_db


def tier_of(person) -> str:
    return Membership.objects.select_related("tier").get(customer=person).tier.name


def history(person) -> list[tuple[str, str, str]]:
    return [
        (c.from_tier.name if c.from_tier else "", c.to_tier.name, c.reason)
        for c in TierChange.objects.filter(customer=person).order_by("changed_at", "pk")
    ]


def test_upgrade_is_immediate_and_skips_rungs_when_qualified(programme, person, send_order):
    send_order(person, "T1", "600.00", at(2026, 3, 1))
    earning.follow_changes(now=at(2026, 3, 1, 1))
    assert tier_of(person) == "银卡"

    send_order(person, "T2", "5000.00", at(2026, 3, 10))
    earning.follow_changes(now=at(2026, 3, 10, 1))

    assert tier_of(person) == "白金卡"
    assert history(person) == [("", "银卡", "joined"), ("银卡", "白金卡", "upgrade")]
    change = TierChange.objects.get(reason="upgrade")
    assert change.figures == {"spend": "5600.00", "orders": 2, "points": 5600}


def test_conditions_on_orders_with_all_must_hold(programme, person, send_order):
    actions.save_tier(
        programme, rank=1, name="金卡", min_spend=Decimal(500), min_orders=3, match=Tier.Match.ALL
    )
    send_order(person, "T1", "400.00", at(2026, 3, 1))
    send_order(person, "T2", "400.00", at(2026, 3, 2))
    earning.follow_changes(now=at(2026, 3, 3))
    assert tier_of(person) == "银卡"
    send_order(person, "T3", "10.00", at(2026, 3, 4))
    earning.follow_changes(now=at(2026, 3, 5))
    assert tier_of(person) == "金卡"


def test_a_ladder_must_rise(programme):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        actions.save_tier(programme, rank=2, name="白金卡", min_spend=Decimal(10))


def test_downgrade_waits_for_the_review_and_the_grace_period(programme, person, send_order):
    actions.update_programme(programme, review_months=12, grace_days=30, qualifying_days=365)
    send_order(person, "T1", "1500.00", at(2026, 3, 1))
    earning.follow_changes(now=at(2026, 3, 1, 1))
    assert tier_of(person) == "金卡"
    membership = Membership.objects.get(customer=person)
    assert membership.review_at == at(2027, 3, 1, 1)

    # The window has moved past the order, but nothing changes before the review.
    assert actions.review_tiers(now=at(2027, 2, 28)) == {}
    assert tier_of(person) == "金卡"
    # At the review the grace period starts; the member keeps the tier through it.
    assert actions.review_tiers(now=at(2027, 3, 1, 1)) == {"grace": 1}
    assert Membership.objects.get(customer=person).grace_until == at(2027, 3, 31, 1)
    assert actions.review_tiers(now=at(2027, 3, 20)) == {"": 1}
    assert tier_of(person) == "金卡"
    # Grace over, still not requalified: down to what the window qualifies for.
    assert actions.review_tiers(now=at(2027, 3, 31, 1)) == {"downgrade": 1}
    assert tier_of(person) == "银卡"
    assert history(person) == [
        ("", "银卡", "joined"),
        ("银卡", "金卡", "upgrade"),
        ("金卡", "金卡", "grace"),
        ("金卡", "银卡", "downgrade"),
    ]
    assert Membership.objects.get(customer=person).review_at == at(2028, 3, 31, 1)


def test_requalifying_during_grace_keeps_the_tier(programme, person, send_order):
    send_order(person, "T1", "1500.00", at(2026, 3, 1))
    earning.follow_changes(now=at(2026, 3, 1, 1))
    actions.review_tiers(now=at(2027, 3, 1, 1))
    send_order(person, "T2", "1000.00", at(2027, 3, 10))
    earning.follow_changes(now=at(2027, 3, 10, 1))

    # The earning's re-evaluation found the member qualified again at their due review: kept.
    assert actions.review_tiers(now=at(2027, 4, 1)) == {}
    membership = Membership.objects.get(customer=person)
    assert (membership.tier.name, membership.grace_until, membership.review_at) == (
        "金卡",
        None,
        at(2028, 3, 1, 1),
    )


def test_refunds_count_against_qualifying_spend(programme, person, send_order):
    send_order(person, "T1", "1200.00", at(2026, 3, 1), refunds=[("R1", "300.00", at(2026, 3, 1, 1))])
    earning.follow_changes(now=at(2026, 3, 2))
    assert tier_of(person) == "银卡"


def test_recalc_repairs_cached_remainders_upgrades_in_bulk_and_reviews_only_members_due(
    programme, person, unit_a, send_order
):
    """`guanxi loyalty recalc`'s job: a corrupted lot remainder is put back from its entries, a member
    the lowered ladder now qualifies is upgraded, and a member past review and grace is downgraded."""
    actions.update_programme(programme, review_months=12, grace_days=0, qualifying_days=30)
    late = make_customer("李雷", [unit_a], phone="+8613800003333")
    send_order(late, "T2", "1500.00", at(2026, 1, 15))
    earning.follow_changes(now=at(2026, 1, 15, 1))
    send_order(person, "T1", "600.00", at(2026, 3, 1))
    earning.follow_changes(now=at(2026, 3, 1, 1))
    assert (tier_of(person), tier_of(late)) == ("银卡", "金卡")
    Membership.objects.filter(customer=late).update(review_at=at(2026, 2, 1))
    lot = Lot.objects.get(customer=person)
    Lot.objects.filter(pk=lot.pk).update(remaining=1)
    Tier.objects.filter(programme=programme, name="金卡").update(min_spend=500)

    with time_machine.travel(at(2026, 3, 2), tick=False):
        job = run_job(create_job("loyalty.recalc", params={"unit": unit_a.pk}, unit=unit_a))

    assert (job.state, job.counts) == ("succeeded", {"members": 2, "lots_fixed": 1, "tier_changes": 2})
    assert Lot.objects.get(pk=lot.pk).remaining == 600
    assert (tier_of(person), tier_of(late)) == ("金卡", "银卡")
    assert history(late)[-1] == ("金卡", "银卡", "downgrade")
    assert actions.check_ledger() == []
