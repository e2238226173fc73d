"""The action steps that reach other apps: a service ticket and a follow-up call, a signed webhook
through messaging's webhook channel, and a wait for an event that either sees it or times out."""

import json
from datetime import UTC

import pytest
import time_machine

from guanxi.commerce import actions as commerce
from guanxi.commerce.records import EventRecord, PersonRecord
from guanxi.marketing.models import Enrolment, StepRun
from guanxi.marketing.tests.conftest import t
from guanxi.marketing.tests.test_flows import live_flow, tick
from guanxi.messaging.models import ChannelKind
from guanxi.service.models import FollowUp, Ticket

pytestmark = pytest.mark.django_db


def test_a_paid_order_opens_a_ticket_plans_a_call_and_calls_the_signed_webhook_once(
    unit_a, sms, make_channel, shopper, send_order, gateways
):
    make_channel(unit_a, ChannelKind.WEBHOOK)
    with time_machine.travel(t(0), tick=False) as clock:
        flow = live_flow(
            unit_a,
            {
                "trigger": {"kind": "order_paid"},
                "steps": [
                    {"id": "vip", "kind": "ticket", "subject": "大单回访", "priority": "high"},
                    {"id": "call", "kind": "follow_up", "subject": "电话回访"},
                    {"id": "hook", "kind": "webhook", "event": "big_order"},
                ],
            },
            name="大单",
        )
        wang = shopper("王芳", "+8613800000001")
        clock.move_to(t(1))
        order = send_order(wang, "T1", "999.00", t(1), paid_at=t(1))
        tick()
        tick()
        ticket = Ticket.objects.get()
        assert (ticket.subject, ticket.priority, ticket.customer_id, ticket.unit_id) == (
            "大单回访",
            "high",
            wang.pk,
            unit_a.pk,
        )
        call = FollowUp.objects.get()
        assert (call.notes, call.customer_id, call.reason) == ("电话回访", wang.pk, "manual")
        enrolment = Enrolment.objects.get()
        assert enrolment.state == "completed"
        hooks = gateways.ledger.of("webhook")
        assert [entry.key for entry in hooks] == [f"flow:{enrolment.pk}:hook:-:webhook"]
        assert json.loads(hooks[0].text) == {
            "context": {"at": t(1).astimezone(UTC).isoformat(), "order_id": order.pk},
            "customer": wang.pk,
            "enrolment": enrolment.pk,
            "event": "big_order",
            "flow": flow.pk,
            "step": "hook",
            "trigger": f"order_paid:{order.pk}",
        }
        clock.move_to(t(60))
        tick()
        assert (Ticket.objects.count(), FollowUp.objects.count(), len(gateways.ledger.of("webhook"))) == (
            1,
            1,
            1,
        )


def test_a_wait_for_an_event_goes_on_when_it_happens_and_down_the_timeout_branch_otherwise(
    unit_a, store, sms, shopper, send_order
):
    def checkout(customer, number, when):
        person = PersonRecord()
        person.add("phone", customer.identities.get(kind="phone").value)
        commerce.record_events(
            store, [EventRecord(external_id=number, kind="checkout_started", occurred_at=when, person=person)]
        )

    with time_machine.travel(t(0), tick=False) as clock:
        live_flow(
            unit_a,
            {
                "trigger": {"kind": "order_paid"},
                "steps": [
                    {
                        "id": "await",
                        "kind": "wait_event",
                        "event_kind": "checkout_started",
                        "hours": 24,
                        "timeout": "late",
                    },
                    {"id": "came", "kind": "follow_up", "subject": "came back", "next": "end"},
                    {"id": "late", "kind": "follow_up", "subject": "late"},
                ],
            },
        )
        wang = shopper("王芳", "+8613800000001")
        li = shopper("李娜", "+8613800000002")
        clock.move_to(t(1))
        send_order(wang, "T1", "99.00", t(1), paid_at=t(1))
        send_order(li, "T2", "99.00", t(1), paid_at=t(1))
        tick()
        assert set(Enrolment.objects.values_list("step", flat=True)) == {"came"}
        clock.move_to(t(90))
        checkout(wang, "E1", t(90))
        tick()
        assert list(FollowUp.objects.values_list("customer_id", "notes")) == [(wang.pk, "came back")]
        assert Enrolment.objects.get(customer=wang).context["awaited"] == {
            "step": "await",
            "outcome": "event",
        }
        assert Enrolment.objects.get(customer=li).state == "active"
        clock.move_to(t(0, days=1))
        tick()
        assert FollowUp.objects.filter(customer=li).count() == 0
        clock.move_to(t(1, days=1))
        tick()
        assert list(FollowUp.objects.filter(customer=li).values_list("notes", flat=True)) == ["late"]
        li_enrolment = Enrolment.objects.get(customer=li)
        assert (li_enrolment.state, li_enrolment.context["awaited"]["outcome"]) == ("completed", "timeout")
        assert list(StepRun.objects.filter(enrolment=li_enrolment).values_list("step", "outcome")) == [
            ("await", "waiting"),
            ("late", "done"),
        ]
