"""The flow engine end to end on a frozen clock: orders sent as platforms send them write the change
feed, marketing enrols from it, waits elapse, exits fire, and messages land in the fake gateway once."""

import pytest
import time_machine

from guanxi.marketing import actions, engine
from guanxi.marketing.models import Enrolment, Flow, StepRun
from guanxi.marketing.tests.conftest import t
from guanxi.messaging import sending

pytestmark = pytest.mark.django_db

UNPAID = {
    "trigger": {"kind": "order_placed", "unpaid_only": True},
    "steps": [
        {"id": "wait", "kind": "wait", "minutes": 30},
        {"id": "remind", "kind": "send", "template": "unpaid_reminder", "purpose": "transactional"},
    ],
    "exit": ["order_paid"],
}


def live_flow(unit, definition, name="催付", holdout="0", **extra):
    flow = actions.save_flow(unit=unit, name=name, holdout_percent=holdout, **extra)
    actions.publish(flow, definition)
    return actions.set_status(flow, Flow.Status.ACTIVE)


def tick():
    engine.follow_changes()
    engine.scan()
    engine.run_due()
    return sending.send_due()


def texts(gateways):
    return sorted(entry.text for entry in gateways.ledger.of("sms"))


def test_unpaid_reminder_waits_then_sends_once_and_a_payment_exits(
    unit_a, sms, shopper, send_order, gateways
):
    with time_machine.travel(t(0), tick=False) as clock:
        live_flow(unit_a, UNPAID)
        wang = shopper("王芳", "+8613800000001")
        li = shopper("李娜", "+8613800000002")
        clock.move_to(t(1))
        send_order(wang, "T1", "199.00", t(1), status="created")
        send_order(li, "T2", "99.00", t(1), status="created")
        tick()
        assert sorted(Enrolment.objects.values_list("customer__name", "state", "step")) == [
            ("李娜", "active", "remind"),
            ("王芳", "active", "remind"),
        ]
        assert texts(gateways) == []

        clock.move_to(t(20))
        send_order(li, "T2", "99.00", t(1), status="paid", paid_at=t(20))
        tick()
        assert Enrolment.objects.get(customer=li).state == Enrolment.State.EXITED
        assert Enrolment.objects.get(customer=li).exit_reason == "order_paid"

        clock.move_to(t(31))
        tick()
        tick()
        assert texts(gateways) == ["【关系家纺】王芳，订单 T1 还未付款。"]
        wang_enrolment = Enrolment.objects.get(customer=wang)
        assert wang_enrolment.state == Enrolment.State.COMPLETED
        assert list(StepRun.objects.filter(enrolment=wang_enrolment).values_list("step", "outcome")) == [
            ("wait", "waiting"),
            ("remind", "done"),
        ]
        # The same order sent again (a webhook retry) changes nothing.
        send_order(wang, "T1", "199.00", t(1), status="created")
        clock.move_to(t(120))
        tick()
        assert Enrolment.objects.count() == 2
        assert len(texts(gateways)) == 1


def test_a_new_version_leaves_enrolments_in_flight_on_theirs(unit_a, sms, shopper, send_order, gateways):
    with time_machine.travel(t(0), tick=False) as clock:
        flow = live_flow(unit_a, UNPAID)
        wang = shopper("王芳", "+8613800000001")
        send_order(wang, "T1", "199.00", t(0), status="created")
        tick()
        second = {**UNPAID, "steps": [{"id": "wait", "kind": "wait", "minutes": 5}, UNPAID["steps"][1]]}
        v2 = actions.publish(flow, second)
        li = shopper("李娜", "+8613800000002")
        send_order(li, "T2", "99.00", t(0), status="created")
        tick()
        clock.move_to(t(6))
        tick()
        assert texts(gateways) == ["【关系家纺】李娜，订单 T2 还未付款。"]
        assert Enrolment.objects.get(customer=li).version == v2
        clock.move_to(t(31))
        tick()
        assert len(texts(gateways)) == 2


def test_triggers_before_the_flow_went_live_do_not_enrol(unit_a, sms, shopper, send_order):
    with time_machine.travel(t(0), tick=False) as clock:
        wang = shopper("王芳", "+8613800000001")
        send_order(wang, "T0", "199.00", t(-60), status="created")
        clock.move_to(t(5))
        live_flow(unit_a, UNPAID)
        send_order(wang, "T0", "199.00", t(-60), status="created", updated=t(5))
        tick()
        assert Enrolment.objects.count() == 0


def test_condition_and_random_split_route_and_tag(unit_a, sms, shopper, send_order, gateways):
    from guanxi.customers import profile
    from guanxi.customers.models import CustomerTag

    tag = profile.create_tag("已触达", group=profile.create_tag_group("营销"))
    repeat_buyer = {"version": 1, "root": {"type": "orders", "measure": "count", "op": "gte", "value": 2}}
    definition = {
        "trigger": {"kind": "order_paid"},
        "steps": [
            {"id": "repeat", "kind": "condition", "rule": repeat_buyer, "no": "tag"},
            {"id": "ab", "kind": "split", "percent_b": 50, "b": "promo_b"},
            {"id": "promo_a", "kind": "send", "template": "promo", "next": "tag"},
            {"id": "promo_b", "kind": "send", "template": "promo_b"},
            {"id": "tag", "kind": "tag", "tag": tag.pk},
        ],
    }
    with time_machine.travel(t(0), tick=False) as clock:
        people = [shopper(f"客户{i}", f"+86138000001{i:02d}") for i in range(12)]
        for i, person in enumerate(people[:6]):
            send_order(person, f"OLD{i}", "80.00", t(-600), paid_at=t(-600))
        clock.move_to(t(1))
        live_flow(unit_a, definition, name="分流")
        for i, person in enumerate(people):
            send_order(person, f"P{i}", "50.00", t(1), paid_at=t(1))
        tick()
    outcomes = dict(StepRun.objects.filter(step="repeat").values_list("enrolment__customer_id", "outcome"))
    assert outcomes == {p.pk: ("yes" if i < 6 else "no") for i, p in enumerate(people)}
    paths = dict(StepRun.objects.filter(step="ab").values_list("enrolment__customer_id", "detail__path"))
    assert set(paths) == {p.pk for p in people[:6]} and set(paths.values()) <= {"a", "b"}
    sent_a = set(StepRun.objects.filter(step="promo_a").values_list("enrolment__customer_id", flat=True))
    sent_b = set(StepRun.objects.filter(step="promo_b").values_list("enrolment__customer_id", flat=True))
    assert sent_a == {pk for pk, path in paths.items() if path == "a"}
    assert sent_b == {pk for pk, path in paths.items() if path == "b"}
    assert len(texts(gateways)) == 6
    assert CustomerTag.objects.filter(tag=tag).count() == 12
