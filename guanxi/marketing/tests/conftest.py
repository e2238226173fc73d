"""Fixtures for marketing: a store, an SMS channel on the local fake gateway, templates, consenting
shoppers, and orders sent the way platforms send them (so they write the customer change feed)."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from guanxi.commerce import actions as commerce
from guanxi.commerce.models import Order
from guanxi.commerce.records import LineRecord, OrderRecord, PersonRecord
from guanxi.commerce.tests.factories import make_customer, make_store
from guanxi.customers import profile
from guanxi.customers.models import Consent, Identity
from guanxi.messaging import actions as messaging
from guanxi.messaging.models import ChannelKind
from guanxi.messaging.tests.conftest import _clean_ledger, gateways, make_channel  # noqa: F401

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


# Frozen clocks run ahead of the real one: rows the database stamps with its own clock (the change
# feed's `available_at`) must be due by the frozen time.
START = (datetime.now(SHANGHAI) + timedelta(days=40)).replace(hour=10, minute=0, second=0, microsecond=0)


def t(minutes: float = 0, days: int = 0) -> datetime:
    """A moment `minutes` (and `days`) after START, 10:00 Shanghai time forty days from today."""
    return START + timedelta(minutes=minutes, days=days)


TEMPLATES = {
    "unpaid_reminder": (
        "transactional",
        {"zh-hans": {"body": "{{ customer.name }}，订单 {{ order.number }} 还未付款。"}},
    ),
    "order_shipped": ("transactional", {"zh-hans": {"body": "订单 {{ order.number }} 已发货。"}}),
    "promo": ("marketing", {"zh-hans": {"body": "{{ customer.name }}，会员专享。回复TD退订"}}),
    "promo_b": ("marketing", {"zh-hans": {"body": "{{ customer.name }}，限时特惠。回复TD退订"}}),
    "coupon_gift": ("marketing", {"zh-hans": {"body": "送您优惠券 {{ coupon.code }}。回复TD退订"}}),
}


@pytest.fixture
def store(unit_a):
    return make_store(unit_a, "家纺旗舰店")


@pytest.fixture
def sms(unit_a, make_channel):  # noqa: F811
    channel = make_channel(unit_a, ChannelKind.SMS_HTTP)
    messaging.save_policy(
        unit_a,
        quiet_start=time(23),
        quiet_end=time(7),
        daily_cap=50,
        weekly_cap=100,
        sms_signature="关系家纺",
    )
    for key, (purpose, contents) in TEMPLATES.items():
        messaging.save_template(
            key=key, name=key, medium="sms", purpose=purpose, contents=contents, unit=unit_a
        )
    return channel


@pytest.fixture
def shopper(unit_a):
    """`shopper("王芳", "+8613800000001")`: a customer of unit A who consented to SMS marketing."""

    def make(name: str, phone: str, **fields):
        customer = make_customer(name, [unit_a], phone=phone, **fields)
        profile.record_consent(
            customer,
            "sms",
            Consent.State.GRANTED,
            Consent.Method.DOUBLE_OPT_IN,
            source="signup",
            recorded_at=at(2025, 1, 1),
        )
        return customer

    return make


@pytest.fixture
def send_order(store):
    """`send_order(customer, "T1", "199.00", placed_at, status="created", paid_at=None)`: upserted as a
    platform sends it; returns the stored Order."""

    def send(customer, number, total, placed_at, *, status="paid", paid_at=None, updated=None):
        person = PersonRecord()
        for phone in Identity.objects.filter(customer=customer, kind=Identity.Kind.PHONE).values_list(
            "value", flat=True
        ):
            person.add("phone", phone)
        record = OrderRecord(
            external_id=number,
            number=number,
            status=status,
            placed_at=placed_at,
            paid_at=paid_at,
            total_amount=Decimal(total),
            currency="CNY",
            source_updated_at=updated or paid_at or placed_at,
            lines=[
                LineRecord(
                    line_no=1, name="毛巾", quantity=1, unit_price=Decimal(total), amount=Decimal(total)
                )
            ],
            person=person,
        )
        commerce.apply_orders(store, [record])
        order = Order.objects.get(source=store.source, external_id=number)
        assert order.customer_id == customer.pk
        return order

    return send
