"""Tier and points as segment conditions."""

import pytest

from guanxi.commerce.tests.factories import make_customer
from guanxi.loyalty import actions, earning
from guanxi.loyalty.tests.conftest import at
from guanxi.segments import actions as segment_actions
from guanxi.segments.sentence import describe

pytestmark = pytest.mark.django_db


def members_of(rule, unit=None) -> set[int]:
    segment = segment_actions.create_segment(
        actor=None, name="s", unit=unit, rule={"version": 1, "root": rule}
    )
    segment_actions.refresh_segment(segment)
    return set(segment.memberships.filter(exited_at__isnull=True).values_list("customer_id", flat=True))


def test_segments_select_by_tier_and_points(programme, person, send_order, unit_a):
    other = make_customer("李雷", [unit_a], phone="+8613900002222")
    make_customer("韩梅梅", [unit_a])
    send_order(person, "T1", "1500.00", at(2026, 3, 1))
    send_order(other, "T2", "300.00", at(2026, 3, 1))
    earning.follow_changes(now=at(2026, 3, 2))
    actions.redeem_points(programme, other, 250, now=at(2026, 3, 3))

    assert members_of({"type": "loyalty", "field": "tier", "op": "gte", "value": 1}) == {person.pk}
    assert members_of({"type": "loyalty", "field": "tier", "op": "eq", "value": 0}) == {other.pk}
    assert members_of({"type": "loyalty", "field": "points", "op": "lt", "value": 100}) == {other.pk}
    assert members_of({"type": "loyalty", "field": "member"}, unit=unit_a) == {person.pk, other.pk}
    assert len(members_of({"not": {"type": "loyalty", "field": "member"}})) == 1


def test_a_loyalty_condition_reads_as_a_sentence():
    from guanxi.segments.rules import parse_rule

    rule = parse_rule(
        {"version": 1, "root": {"all": [{"type": "loyalty", "field": "points", "op": "gte", "value": 500}]}}
    )
    assert "loyalty points is at least 500" in describe(rule)
