"""The built-in journeys end to end on a frozen clock: orders, carts and birthdays drive enrolments,
waits elapse, exits fire, coupons are issued and each message lands in the fake gateway once."""

from collections import Counter
from datetime import timedelta

import pytest
import time_machine

from guanxi.commerce import actions as commerce
from guanxi.commerce.records import EventRecord, PersonRecord
from guanxi.loyalty import actions as loyalty
from guanxi.loyalty import earning
from guanxi.loyalty.models import CouponCode
from guanxi.marketing import actions, journeys
from guanxi.marketing.models import Enrolment, Flow
from guanxi.marketing.tests.conftest import START, t
from guanxi.marketing.tests.test_flows import tick

pytestmark = pytest.mark.django_db


def bodies(gateways):
    keys = Counter(entry.key for entry in gateways.ledger.of("sms"))
    assert set(keys.values()) <= {1}, "a message reached the gateway twice"
    return sorted(entry.text for entry in gateways.ledger.of("sms"))


@pytest.fixture
def live_journeys(unit_a, sms):
    loyalty.create_programme(unit=unit_a, name="会员计划", now=START - timedelta(days=1))
    flows = journeys.install(unit_a)
    assert {f.status for f in flows} == {Flow.Status.DRAFT}
    assert journeys.install(unit_a) == flows  # installing again changes nothing
    for flow in flows:
        flow.holdout_percent = 0
        flow.save()
        actions.set_status(flow, Flow.Status.ACTIVE)
    return {f.key: f for f in flows}


def run(clock, moment):
    clock.move_to(moment)
    earning.follow_changes()
    tick()
    tick()


def test_order_care_journeys(unit_a, live_journeys, shopper, send_order, gateways):
    with time_machine.travel(t(1), tick=False) as clock:
        wang = shopper("王芳", "+8613800000001")
        li = shopper("李娜", "+8613800000002")
        send_order(wang, "T1", "199.00", t(1), status="created")
        send_order(li, "T2", "99.00", t(1), status="created")
        run(clock, t(10))
        send_order(li, "T2", "99.00", t(1), status="paid", paid_at=t(10))
        run(clock, t(32))
        # 催付: 王芳 reminded once; 李娜 paid within the half hour and left the flow (and joined the programme).
        assert Enrolment.objects.get(flow=live_journeys["unpaid"], customer=li).exit_reason == "order_paid"
        assert bodies(gateways) == [
            "【关系家纺】李娜，欢迎加入Home textiles会员！首单享会员价。回复TD退订",
            "【关系家纺】王芳，您在家纺旗舰店的订单 T1 还未付款，商品已为您保留，请尽快完成支付。",
        ]
        gateways.reset()
        send_order(li, "T2", "99.00", t(1), status="shipped", paid_at=t(10), updated=t(60))
        run(clock, t(61))
        send_order(li, "T2", "99.00", t(1), status="delivered", paid_at=t(10), updated=t(60 * 24))
        run(clock, t(60 * 24 + 1))
        assert bodies(gateways) == [
            "【关系家纺】李娜，您的订单 T2 已到达，请及时签收。",
            "【关系家纺】李娜，您的订单 T2 已发货，请留意查收。",
        ]
        # 好评签收提醒: the next day at 10:00 in the unit's time zone, once.
        run(clock, t(0, days=2) - timedelta(minutes=1))
        assert len(bodies(gateways)) == 2
        run(clock, t(1, days=2))
        run(clock, t(5, days=3))
        assert (
            bodies(gateways)[-1] == "【关系家纺】李娜，订单 T2 已签收，用得满意的话请给我们一个好评，谢谢！"
        )
        assert len(bodies(gateways)) == 3


def test_cart_abandonment_coupon_with_exit_on_order(
    unit_a, store, live_journeys, shopper, send_order, gateways
):
    def cart(customer, number, when):
        person = PersonRecord()
        person.add("phone", customer.identities.get(kind="phone").value)
        commerce.record_events(
            store,
            [
                EventRecord(
                    external_id=number,
                    kind="add_to_cart",
                    occurred_at=when,
                    properties={"cart_id": number},
                    person=person,
                )
            ],
        )

    with time_machine.travel(t(0), tick=False) as clock:
        wang = shopper("王芳", "+8613800000001")
        li = shopper("李娜", "+8613800000002")
        cart(wang, "CART1", t(0))
        cart(li, "CART2", t(0))
        run(clock, t(1))
        send_order(li, "T9", "99.00", t(20), paid_at=t(20))
        run(clock, t(21))
        gateways.reset()
        run(clock, t(61))
        run(clock, t(70))
    code = CouponCode.objects.get(customer=wang)
    assert code.expires_at == t(61) + timedelta(days=3)
    assert not CouponCode.objects.filter(customer=li).exists()
    assert Enrolment.objects.get(flow=live_journeys["cart"], customer=li).exit_reason == "order_placed"
    assert bodies(gateways) == [
        f"【关系家纺】王芳，购物车里的宝贝还在等您，送您 {code.code}，{code.expires_at.astimezone(START.tzinfo):%Y-%m-%d} 前有效。回复TD退订"
    ]


def test_birthday_gift_coupon_at_nine_in_the_morning(unit_a, live_journeys, shopper, gateways):
    birthday = (START + timedelta(days=1)).date().replace(year=1990)
    with time_machine.travel(t(0), tick=False) as clock:
        wang = shopper("王芳", "+8613800000001", birthday=birthday)
        shopper("李娜", "+8613800000002", birthday=birthday + timedelta(days=3))
        run(clock, t(60))
        assert bodies(gateways) == []
        run(clock, START + timedelta(days=1, hours=-10, minutes=5))  # 00:05 on the birthday
        assert bodies(gateways) == []
        run(clock, START + timedelta(days=1, hours=-1))  # 09:00
        run(clock, START + timedelta(days=1, hours=2))
    code = CouponCode.objects.get(customer=wang)
    assert len(bodies(gateways)) == 1 and code.code in bodies(gateways)[0]
    assert Enrolment.objects.filter(flow=live_journeys["birthday"]).count() == 1
