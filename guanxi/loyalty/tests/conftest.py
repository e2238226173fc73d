"""A programme for unit A, a store, people, and orders sent the way platforms send them."""

import sqlite3
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections

from guanxi.commerce import actions as commerce
from guanxi.commerce.models import Order
from guanxi.commerce.records import LineRecord, OrderRecord, PersonRecord, RefundRecord
from guanxi.commerce.tests.factories import make_customer, make_store
from guanxi.customers.models import Identity
from guanxi.loyalty import actions

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 1, 1, tzinfo=SHANGHAI)


def at(*parts: int) -> datetime:
    """A moment in Shanghai time: at(2026, 5, 1) or at(2026, 5, 1, 13, 30)."""
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


@pytest.fixture
def threaded_database(transactional_db, tmp_path):
    """A database real threads can write to at once. PostgreSQL's test database already is. SQLite's
    in-memory test database shares one cache between connections, whose table locks fail at once
    instead of waiting; so the test runs on a file copy of it, opened as production opens its embedded
    SQLite (WAL, busy timeout, BEGIN IMMEDIATE). The in-memory database stays open and is the one
    flushed afterwards."""
    if connection.vendor != "sqlite":
        yield
        return
    settings = connection.settings_dict
    memory_name, options = settings["NAME"], settings["OPTIONS"]
    path = tmp_path / "threads.sqlite3"
    target = sqlite3.connect(path)
    connection.ensure_connection()
    memory = connection.connection
    memory.backup(target)  # schema and whatever earlier fixtures wrote
    target.close()
    connection.connection = None  # kept open by `memory` until the test ends
    settings["NAME"] = str(path)
    settings["OPTIONS"] = {
        **options,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;",
    }
    try:
        yield
    finally:
        connections.close_all()
        settings["NAME"], settings["OPTIONS"] = memory_name, options
        connection.connection = memory


@pytest.fixture
def programme(unit_a):
    return actions.create_programme(unit=unit_a, name="会员计划", now=START)


@pytest.fixture
def store(unit_a):
    return make_store(unit_a, "天猫旗舰店")


@pytest.fixture
def person(unit_a):
    return make_customer("王芳", [unit_a], phone="+8613800001111")


@pytest.fixture
def send_order(store):
    """`send_order(person, "T1", "199.00", paid_at, lines=[(category, qty, unit price)], refunds=[(id, amount, when)])`:
    the order as a platform sends it (upserted on its external id), returned as the stored Order."""

    def send(
        customer,
        number,
        total,
        paid_at,
        *,
        lines=None,
        refunds=(),
        status="paid",
        attributes=None,
        updated=None,
    ):
        lines = lines or [("home_textiles", 1, total)]
        person = PersonRecord()
        if customer is not None:
            for phone in Identity.objects.filter(customer=customer, kind=Identity.Kind.PHONE).values_list(
                "value", flat=True
            ):
                person.add("phone", phone)
        record = OrderRecord(
            external_id=number,
            number=number,
            status=status,
            placed_at=paid_at,
            paid_at=paid_at,
            total_amount=Decimal(total),
            currency="CNY",
            source_updated_at=updated or paid_at,
            attributes=attributes or {},
            lines=[
                LineRecord(
                    line_no=i,
                    name=f"item {i}",
                    quantity=q,
                    unit_price=Decimal(p),
                    amount=Decimal(p) * q,
                    category=c,
                )
                for i, (c, q, p) in enumerate(lines, start=1)
            ],
            refunds=[
                RefundRecord(external_id=rid, amount=Decimal(a), refunded_at=when) for rid, a, when in refunds
            ],
            person=person,
        )
        commerce.apply_orders(store, [record])
        order = Order.objects.get(source=store.source, external_id=number)
        assert customer is None or order.customer_id == customer.pk
        return order

    return send
