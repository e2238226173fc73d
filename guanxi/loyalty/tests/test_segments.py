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


def test_a_marketer_issues_a_coupon_to_a_segment_from_its_page_once(
    client, make_user, programme, person, send_order, unit_a, django_capture_on_commit_callbacks
):
    from guanxi.accounts.roles import Role
    from guanxi.core.models import Job
    from guanxi.loyalty.models import CouponCode

    other = make_customer("李雷", [unit_a], phone="+8613900002222")
    make_customer("韩梅梅", [unit_a])  # not a member: gets nothing
    send_order(person, "T1", "1500.00", at(2026, 3, 1))
    send_order(other, "T2", "300.00", at(2026, 3, 1))
    earning.follow_changes(now=at(2026, 3, 2))
    segment = segment_actions.create_segment(
        actor=None,
        name="会员",
        unit=unit_a,
        rule={"version": 1, "root": {"type": "loyalty", "field": "member"}},
    )
    segment_actions.refresh_segment(segment)
    template = actions.save_coupon_template(
        programme, name="会员日券", kind="spend_save", min_spend=100, amount_off=20, valid_days=7
    )
    client.force_login(make_user("m", Role.MARKETER, [unit_a]))

    page = client.get(f"/segments/{segment.pk}/").content.decode()
    assert "会员日券" in page
    with django_capture_on_commit_callbacks(execute=True):  # the job starts when the request commits
        first = client.post(f"/segments/{segment.pk}/coupons/", {"template": template.pk})
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(f"/segments/{segment.pk}/coupons/", {"template": template.pk})

    jobs = list(Job.objects.filter(kind="loyalty.issue_coupons").order_by("pk"))
    assert [first.url, again.url] == [f"/jobs/{job.pk}/" for job in jobs]
    assert [(job.state, job.counts.get("issued"), job.message) for job in jobs] == [
        ("succeeded", 2, ""),
        ("succeeded", 0, ""),
    ]
    assert sorted(CouponCode.objects.filter(state="issued").values_list("customer_id", flat=True)) == sorted(
        [person.pk, other.pk]
    )
