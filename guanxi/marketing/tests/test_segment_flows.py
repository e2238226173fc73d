"""Flows triggered by entering a segment: the set-based enrolment writes the same rows the
per-occurrence path would (re-entry rules, holdout by hash, inactive customers left out), and the
batched scheduler runs conditions, splits and waits once per enrolment."""

from datetime import datetime, timedelta

import pytest
import time_machine

from guanxi.commerce.tests.factories import make_customer
from guanxi.customers.models import Customer
from guanxi.marketing import engine, holdout
from guanxi.marketing.models import Enrolment, Flow, StepRun
from guanxi.marketing.tests.conftest import t
from guanxi.marketing.tests.test_flows import live_flow
from guanxi.segments.models import Segment, SegmentMembership

pytestmark = pytest.mark.django_db


def flow_on(unit, segment, holdout_percent="0", **extra):
    definition = {
        "trigger": {"kind": "segment_entered", "segment": segment.pk},
        "steps": [
            {"id": "member", "kind": "condition", "segment": segment.pk, "no": "end"},
            {"id": "ab", "kind": "split", "percent_b": 50},
            {"id": "pause", "kind": "wait", "days": 1},
            {"id": "again", "kind": "condition", "segment": segment.pk},
        ],
    }
    return live_flow(unit, definition, name="VIP", holdout=holdout_percent, **extra)


def test_segment_entry_enrols_each_active_member_once_with_the_hashed_holdout(unit_a):
    with time_machine.travel(t(0), tick=False) as clock:
        people = [make_customer(f"c{i}", [unit_a]) for i in range(40)]
        Customer.objects.filter(pk=people[0].pk).update(status=Customer.Status.MERGED)
        segment = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC, unit=unit_a)
        flow = flow_on(unit_a, segment, "30")
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, customer=c, entered_at=t(1)) for c in people]
        )
        # Before the flow went live: no occurrence.
        SegmentMembership.objects.create(
            segment=segment, customer=people[1], entered_at=t(-5), exited_at=t(-4)
        )
        clock.move_to(t(2))
        assert engine.scan() == 39
        assert engine.scan() == 0
        rows = Enrolment.objects.filter(flow=flow)
        expected_held = {
            c.pk for c in people[1:] if holdout.is_held_out(f"flow:{flow.pk}", c.pk, flow.holdout_percent)
        }
        assert len(expected_held) > 0
        assert {e.customer_id for e in rows if e.state == "holdout"} == expected_held
        assert {e.customer_id for e in rows if e.state == "active"} == {
            c.pk for c in people[1:]
        } - expected_held
        membership = SegmentMembership.objects.get(segment=segment, customer=people[1], exited_at=None)
        first = rows.get(customer=people[1])
        assert first.trigger_key == f"segment_entered:{membership.pk}"
        assert datetime.fromisoformat(first.context["at"]) == t(1)
        held = rows.filter(state="holdout").first()
        assert (held.step, held.due_at, held.finished_at) == ("", None, t(2))
        active = rows.filter(state="active").first()
        assert (active.step, active.due_at) == ("member", t(2))


def test_reentry_once_enrols_a_customer_who_comes_back_only_once(unit_a):
    with time_machine.travel(t(0), tick=False) as clock:
        wang, li = make_customer("王芳", [unit_a]), make_customer("李娜", [unit_a])
        segment = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC, unit=unit_a)
        once = flow_on(unit_a, segment, reentry=Flow.Reentry.ONCE)
        every = flow_on(unit_a, segment)
        clock.move_to(t(1))
        SegmentMembership.objects.create(segment=segment, customer=wang, entered_at=t(1), exited_at=t(2))
        SegmentMembership.objects.create(segment=segment, customer=wang, entered_at=t(3))
        SegmentMembership.objects.create(segment=segment, customer=li, entered_at=t(3))
        clock.move_to(t(4))
        assert engine.scan() == 5
        assert Enrolment.objects.filter(flow=once).count() == 2
        assert Enrolment.objects.filter(flow=every, customer=wang).count() == 2
        SegmentMembership.objects.filter(customer=wang, exited_at__isnull=True).update(exited_at=t(5))
        SegmentMembership.objects.create(segment=segment, customer=wang, entered_at=t(6))
        clock.move_to(t(7))
        assert engine.scan() == 1  # the every-time flow only
        assert Enrolment.objects.filter(flow=once, customer=wang).count() == 1


def test_batched_scheduler_runs_each_step_once_and_waits(unit_a):
    with time_machine.travel(t(0), tick=False) as clock:
        people = [make_customer(f"c{i}", [unit_a]) for i in range(30)]
        segment = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC, unit=unit_a)
        flow = flow_on(unit_a, segment)
        clock.move_to(t(1))
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, customer=c, entered_at=t(1)) for c in people]
        )
        # One left the segment before the flow's first step: its condition says no.
        SegmentMembership.objects.filter(customer=people[0]).update(exited_at=t(1))
        engine.scan()
        result = engine.run_due(limit=7)
        assert (result.steps, result.finished) == (1 + 29 * 3, 1)
        gone = Enrolment.objects.get(customer=people[0])
        assert (gone.state, gone.step) == ("completed", "")
        waiting = Enrolment.objects.filter(flow=flow, state="active")
        assert waiting.count() == 29
        assert set(waiting.values_list("step", "due_at")) == {("again", t(1) + timedelta(days=1))}
        expected = {c.pk: holdout.variant(f"flow:{flow.pk}:ab", c.pk, 50) for c in people[1:]}
        assert dict(waiting.values_list("customer_id", "variant")) == expected
        assert engine.run_due().steps == 0
        clock.move_to(t(0, days=2))
        assert engine.run_due(limit=5).steps == 29
        assert Enrolment.objects.filter(state="completed").count() == 30
        assert StepRun.objects.count() == 1 + 29 * 4
        assert set(StepRun.objects.filter(step="again").values_list("outcome", flat=True)) == {"yes"}


def test_the_global_holdout_receives_nothing_from_flows_or_campaigns(unit_a, sms, manager):
    from guanxi.marketing import actions
    from guanxi.marketing.models import Campaign, Recipient
    from guanxi.marketing.tests.test_campaigns import audience
    from guanxi.messaging.models import Message

    with time_machine.travel(t(0), tick=False) as clock:
        segment, ids = audience(unit_a, 200)
        actions.save_settings(unit=unit_a, global_holdout_percent="20", actor=manager)
        everywhere = {pk for pk in ids if holdout.in_global_holdout(unit_a.pk, pk, 20)}
        assert 20 <= len(everywhere) <= 60
        flow = flow_on(unit_a, segment)  # the flow's own holdout is 0 %
        SegmentMembership.objects.filter(segment=segment).update(entered_at=t(1))
        clock.move_to(t(2))
        assert engine.scan() == 200
        rows = Enrolment.objects.filter(flow=flow)
        assert set(rows.filter(state="holdout").values_list("customer_id", flat=True)) == everywhere
        engine.run_due()
        assert StepRun.objects.filter(enrolment__customer_id__in=everywhere).count() == 0
        campaign = actions.save_campaign(
            unit=unit_a, actor=manager, name="母亲节", segment=segment, template="promo", holdout_percent=0
        )
        actions.submit(campaign, actor=manager)
        assert campaign.status == Campaign.Status.SCHEDULED
        counts = actions.send_campaign(campaign, actor=manager)
        held = set(
            Recipient.objects.filter(campaign=campaign, group="holdout").values_list("customer_id", flat=True)
        )
        assert held == everywhere
        assert counts["messages"] == 200 - len(everywhere)
        assert Message.objects.filter(customer_id__in=everywhere).count() == 0


def test_the_flow_effect_counts_orders_paid_within_the_window_treated_against_holdout(unit_a, store):
    from decimal import Decimal

    from guanxi.commerce.models import Order
    from guanxi.commerce.tests.factories import make_order
    from guanxi.marketing import effect

    with time_machine.travel(t(0), tick=False) as clock:
        people = [make_customer(f"c{i}", [unit_a]) for i in range(40)]
        segment = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC, unit=unit_a)
        flow = flow_on(unit_a, segment, "50")
        assert effect.analyse_flow(flow) is None
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, customer=c, entered_at=t(1)) for c in people]
        )
        clock.move_to(t(2))
        engine.scan()
        held = sorted(Enrolment.objects.filter(state="holdout").values_list("customer_id", flat=True))
        treated = sorted({c.pk for c in people} - set(held))
        assert held and treated

        def paid(customer_id, number, total, when):
            order = make_order(store, Customer.objects.get(pk=customer_id), number, total, (2026, 1, 1))
            Order.objects.filter(pk=order.pk).update(placed_at=when, paid_at=when)

        for i, pk in enumerate(treated):
            paid(pk, f"T{i}", "100.00", t(60))
        paid(treated[0], "LATE", "500.00", t(0, days=10))  # after the 7-day window
        paid(held[0], "H0", "40.00", t(60))
        paid(held[0], "EARLY", "70.00", t(0))  # before entering
        result = effect.analyse_flow(flow)
    assert (result.treated.customers, result.treated.converted, result.treated.revenue) == (
        len(treated),
        len(treated),
        100.0 * len(treated),
    )
    assert (result.holdout.customers, result.holdout.converted, result.holdout.revenue) == (
        len(held),
        1,
        40.0,
    )
    expected = (Decimal("100") - Decimal("40") / len(held)) * len(treated)
    assert abs(result.incremental_revenue - expected) <= Decimal("0.01")
    assert (result.coupon_cost, result.message_cost, result.messages_sent) == (
        Decimal("0.00"),
        Decimal("0.00"),
        0,
    )
