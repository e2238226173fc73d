"""Crash: a worker killed mid-flow for 1,000 enrolments — every step runs exactly once: one coupon and
one message per enrolment, each message once in the fake gateway."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from guanxi.commerce import actions as commerce
from guanxi.commerce.records import LineRecord, OrderRecord, PersonRecord
from guanxi.loyalty import actions as loyalty
from guanxi.loyalty.models import CouponCode
from guanxi.marketing import effects, engine
from guanxi.marketing.models import Enrolment, StepRun
from guanxi.marketing.tests.conftest import t
from guanxi.marketing.tests.test_flows import live_flow
from guanxi.messaging import sending
from guanxi.messaging.models import Message

pytestmark = pytest.mark.django_db

N = 1000


class Killed(BaseException):
    """What a SIGKILL looks like from inside: the step's transaction never commits."""


def test_a_worker_killed_mid_flow_leaves_every_step_exactly_once(unit_a, store, sms, gateways, monkeypatch):
    programme = loyalty.create_programme(unit=unit_a, name="会员计划")
    gift = loyalty.save_coupon_template(
        programme, name="满100减10", kind="spend_save", min_spend=100, amount_off=10, valid_days=7
    )
    loyalty.generate_coupon_codes(gift, N)
    sms.refresh_from_db()
    from guanxi.messaging import actions as messaging

    messaging.save_template(
        key="gift_notice",
        name="gift",
        medium="sms",
        purpose="transactional",
        contents={"zh-hans": {"body": "订单 {{ order.number }} 获赠 {{ coupon.code }}"}},
        unit=unit_a,
    )
    definition = {
        "trigger": {"kind": "order_paid"},
        "steps": [
            {"id": "gift", "kind": "coupon", "coupon_template": gift.pk},
            {"id": "notice", "kind": "send", "template": "gift_notice", "purpose": "transactional"},
        ],
    }
    with time_machine.travel(t(0), tick=False) as clock:
        live_flow(unit_a, definition, name="下单有礼")
        clock.move_to(t(1))
        records = []
        for i in range(N):
            person = PersonRecord()
            person.add("phone", f"+86139{i:08d}")
            records.append(
                OrderRecord(
                    external_id=f"C{i}",
                    number=f"C{i}",
                    status="paid",
                    placed_at=t(1),
                    paid_at=t(1),
                    total_amount=Decimal("120.00"),
                    currency="CNY",
                    lines=[LineRecord(1, "毛巾", 1, Decimal("120.00"), Decimal("120.00"))],
                    person=person,
                )
            )
        commerce.apply_orders(store, records)
        engine.follow_changes()
        assert Enrolment.objects.filter(state=Enrolment.State.ACTIVE).count() == N

        real = effects.perform
        calls = Counter()

        def dying(enrolment, step, now):
            calls["n"] += 1
            result = real(enrolment, step, now)  # the coupon is issued, the message queued…
            if calls["n"] in (301, 1302):
                raise Killed  # …and the worker dies before the step's transaction commits
            return result

        monkeypatch.setattr(effects, "perform", dying)
        with pytest.raises(Killed):
            engine.run_due(limit=200)
        # A second worker meanwhile: it does not take what the dead one holds under its lease.
        with pytest.raises(Killed):
            engine.run_due(limit=200)
        stuck = Enrolment.objects.filter(claim_token__isnull=False, state=Enrolment.State.ACTIVE).count()
        assert stuck > 0
        engine.run_due(limit=200)
        assert Enrolment.objects.filter(state=Enrolment.State.ACTIVE).count() == stuck

        clock.move_to(t(1) + engine.LEASE + timedelta(seconds=1))  # the dead worker's lease ran out
        engine.run_due(limit=200)
        for _ in range(20):
            if not sending.send_due().claimed:
                break

    assert Enrolment.objects.filter(state=Enrolment.State.COMPLETED).count() == N
    runs = Counter(StepRun.objects.values_list("enrolment_id", "step"))
    assert len(runs) == 2 * N and set(runs.values()) == {1}
    issued = list(
        CouponCode.objects.filter(template=gift).exclude(customer=None).values_list("customer_id", flat=True)
    )
    assert len(issued) == N and len(set(issued)) == N
    assert Message.objects.filter(source__startswith="flow:").count() == N
    ledger = [entry.key for entry in gateways.ledger.of("sms")]
    assert len(ledger) == N and len(set(ledger)) == N
    # Each message carries the code its own enrolment was given.
    codes = dict(
        CouponCode.objects.filter(template=gift).exclude(customer=None).values_list("customer_id", "code")
    )
    bodies = dict(Message.objects.filter(source__startswith="flow:").values_list("customer_id", "body"))
    assert all(bodies[customer].endswith(code) for customer, code in codes.items())
