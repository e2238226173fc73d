import hashlib
import re
import statistics
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import authenticate
from django.db import transaction

from guanxi.accounts.models import BusinessUnit, User
from guanxi.commerce.models import Order, OrderLine, Product, Store
from guanxi.core.models import AuditEntry
from guanxi.customers.models import Customer, CustomerUnit, Identity
from guanxi.demo import DEFAULT_ANCHOR, DEMO_PASSWORD, DemoAlreadyLoaded, load_demo

SHANGHAI = ZoneInfo("Asia/Shanghai")
WINDOW_START = datetime(2024, 11, 1, tzinfo=SHANGHAI)


def fingerprint() -> str:
    """A digest of everything the generator decides (not row ids or creation times of set-up rows)."""
    digest = hashlib.sha256()
    parts = [
        Order.objects.order_by("source", "external_id").values_list(
            "source",
            "external_id",
            "number",
            "status",
            "device",
            "total_amount",
            "refunded_amount",
            "item_count",
            "placed_at",
            "paid_at",
            "customer__name",
            "unit__code",
        ),
        OrderLine.objects.order_by("order__source", "order__external_id", "sku").values_list(
            "order__external_id", "sku", "name", "category", "quantity", "unit_price", "amount"
        ),
        Identity.objects.order_by("kind", "namespace", "value").values_list(
            "kind", "namespace", "value", "source", "is_verified", "customer__name", "created_at"
        ),
        sorted(
            map(
                repr,
                Customer.objects.values_list(
                    "name",
                    "gender",
                    "birthday",
                    "province",
                    "city",
                    "occupation",
                    "source_channel",
                    "first_seen_at",
                    "owner__username",
                ),
            )
        ),
        sorted(map(repr, CustomerUnit.objects.values_list("customer__name", "unit__code", "first_seen_at"))),
    ]
    for rows in parts:
        for row in rows:
            digest.update(repr(row).encode())
    return digest.hexdigest()


def load_and_roll_back(**kwargs):
    with transaction.atomic():
        summary = load_demo(**kwargs)
        result = (
            summary,
            fingerprint(),
            list(Order.objects.order_by("placed_at", "number").values_list("number", flat=True)[:5]),
        )
        transaction.set_rollback(True)
    return result


@pytest.mark.django_db
def test_same_seed_gives_the_same_shop_and_another_seed_a_different_one():
    first = load_and_roll_back(customers=300)
    assert Order.objects.count() == 0
    second = load_and_roll_back(customers=300, chunk_size=120)
    other = load_and_roll_back(customers=300, seed=7)

    assert first == second
    assert other[1] != first[1]
    assert other[2] != first[2]


@pytest.mark.django_db
def test_small_load_keeps_its_invariants():
    summary = load_demo(customers=300)

    assert (summary.units, summary.stores, summary.products, summary.customers) == (2, 6, 240, 300)
    assert Customer.objects.count() == 300
    assert Order.objects.count() == summary.orders
    assert OrderLine.objects.count() == summary.order_lines
    assert Identity.objects.count() == summary.identities

    lines = defaultdict(lambda: [Decimal("0.00"), 0])
    for order_id, amount, quantity in OrderLine.objects.values_list("order_id", "amount", "quantity"):
        lines[order_id][0] += amount
        lines[order_id][1] += quantity
    revenue = Decimal("0.00")
    stores_by_customer, units_by_customer = defaultdict(set), defaultdict(set)
    for order in Order.objects.all():
        assert (order.total_amount, order.item_count) == tuple(lines[order.id])
        assert order.source == order.store.source and order.unit_id == order.store.unit_id
        assert WINDOW_START <= order.placed_at <= DEFAULT_ANCHOR
        if order.status in (Order.Status.CREATED, Order.Status.CANCELLED):
            assert order.paid_at is None
        else:
            assert order.placed_at <= order.paid_at <= DEFAULT_ANCHOR
        if order.status == Order.Status.REFUNDED:
            assert Decimal("0.00") < order.refunded_amount <= order.total_amount
        else:
            assert order.refunded_amount == Decimal("0.00")
        if order.status in Order.SALE_STATUSES:
            revenue += order.total_amount
        stores_by_customer[order.customer_id].add(order.store_id)
        units_by_customer[order.customer_id].add(order.unit_id)
    assert summary.revenue == revenue

    assert set(CustomerUnit.objects.values_list("customer_id", "unit_id")) == {
        (customer, unit) for customer, units in units_by_customer.items() for unit in units
    }
    assert len(units_by_customer) == 300
    assert sum(len(stores) > 1 for stores in stores_by_customer.values()) == summary.multi_store_customers > 0
    assert sum(len(units) > 1 for units in units_by_customer.values()) == summary.cross_unit_customers > 0

    statuses = set(Order.objects.values_list("status", flat=True))
    assert {"created", "shipped", "completed", "cancelled", "refunded"} <= statuses
    assert set(Order.objects.values_list("device", flat=True)) == {"mobile", "pc", "app", "offline"}
    assert set(Order.objects.filter(store__channel="offline").values_list("device", flat=True)) == {
        "offline",
        "app",
    }

    phones = Identity.objects.filter(kind=Identity.Kind.PHONE).values_list("value", flat=True)
    assert all(re.fullmatch(r"\+861[3-9]\d{9}", phone) for phone in phones)
    assert not Customer.objects.filter(identities__isnull=True).exists()
    assert (
        Identity.objects.filter(kind=Identity.Kind.TAOBAO_NICK).count()
        == Customer.objects.filter(orders__store__channel__in=["tmall", "taobao"]).distinct().count()
    )
    assert not Customer.objects.filter(name="").exists()


@pytest.mark.django_db
def test_demo_users_sign_in_and_see_their_units():
    summary = load_demo(customers=200)

    roles = {user.username: user.role for user in summary.users}
    assert set(roles.values()) == {
        "system_admin",
        "group_manager",
        "unit_head",
        "unit_admin",
        "marketer",
        "service_agent",
        "sales_rep",
        "analyst",
    }
    for demo_user in summary.users:
        user = authenticate(username=demo_user.username, password=DEMO_PASSWORD)
        assert user is not None and user.role == demo_user.role
        assert set(user.units.values_list("code", flat=True)) == set(demo_user.units)

    head_home = User.objects.get(username="head_home")
    home = BusinessUnit.objects.get(code="home")
    assert set(Order.objects.restrict(head_home).values_list("unit_id", flat=True)) == {home.id}
    manager = User.objects.get(username="manager")
    assert Order.objects.restrict(manager).count() == summary.orders
    sales = User.objects.get(username="sales")
    owned = Customer.objects.restrict(sales)
    assert owned.count() == Customer.objects.filter(owner=sales, source_channel="offline").count() > 0


@pytest.mark.django_db
def test_load_reports_progress_and_writes_one_audit_entry():
    calls = []
    summary = load_demo(customers=250, chunk_size=100, progress=lambda *call: calls.append(call))

    assert [(done, total) for done, total, _message in calls] == [
        (0, 250),
        (100, 250),
        (200, 250),
        (250, 250),
    ]
    assert all(message for _done, _total, message in calls)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.IMPORT)
    assert entry.object_type == "demo"
    assert f"{summary.customers} customers, {summary.orders} orders" in entry.message


@pytest.mark.django_db
def test_second_load_refuses_and_changes_nothing():
    load_demo(customers=50)
    counts = (Customer.objects.count(), Order.objects.count(), Store.objects.count(), Product.objects.count())

    with pytest.raises(DemoAlreadyLoaded, match="home"):
        load_demo(customers=50)

    assert (
        Customer.objects.count(),
        Order.objects.count(),
        Store.objects.count(),
        Product.objects.count(),
    ) == counts


@pytest.mark.django_db
def test_anchor_moves_the_window():
    anchor = datetime(2025, 3, 15, 12, 0, tzinfo=SHANGHAI)
    load_demo(customers=100, anchor=anchor)

    placed = Order.objects.values_list("placed_at", flat=True)
    assert max(placed) <= anchor
    assert min(placed) >= datetime(2023, 3, 16, tzinfo=SHANGHAI)


@pytest.mark.django_db
def test_default_demo_looks_like_a_real_merchant():
    summary = load_demo()

    assert summary.units == 2 and summary.stores >= 5 and summary.customers >= 5000
    assert summary.orders >= 30_000
    assert 0.10 <= summary.multi_store_customers / summary.customers <= 0.15
    statuses = Counter(Order.objects.values_list("status", flat=True))
    assert 0.02 <= statuses["created"] / summary.orders <= 0.04
    assert 0.03 <= statuses["cancelled"] / summary.orders <= 0.05
    assert 0.04 <= statuses["refunded"] / summary.orders <= 0.06
    devices = Counter(Order.objects.values_list("device", flat=True))
    assert 0.70 <= devices["mobile"] / summary.orders <= 0.80
    assert 0.12 <= devices["pc"] / summary.orders <= 0.18

    per_customer = Counter(Order.objects.values_list("customer_id", flat=True))
    assert max(per_customer.values()) >= 10 * statistics.median(per_customer.values())  # heavy tail

    revenue = Counter()
    for placed_at, total in Order.objects.filter(status__in=Order.SALE_STATUSES).values_list(
        "placed_at", "total_amount"
    ):
        revenue[placed_at.astimezone(SHANGHAI).strftime("%Y-%m")] += total
    assert len(revenue) == 24
    median = statistics.median(revenue.values())
    for month in ("2024-11", "2025-11", "2025-06", "2026-06"):
        assert revenue[month] > median, month
    assert revenue["2026-02"] < median  # the Spring Festival dip
