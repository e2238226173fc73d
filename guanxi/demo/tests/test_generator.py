import hashlib
import re
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from guanxi.accounts.models import BusinessUnit, User
from guanxi.commerce.models import Event, Order, OrderLine, Product, Return, Store
from guanxi.core.models import AuditEntry
from guanxi.customers.models import (
    Address,
    Consent,
    Customer,
    CustomerTag,
    CustomerUnit,
    CustomFieldValue,
    Identity,
    IdentityHint,
    MergeRecord,
    MergeSuggestion,
    Note,
    Tag,
    TimelineEvent,
)
from guanxi.demo import DEMO_PASSWORD, REFERENCE_ANCHOR, DemoAlreadyLoaded, load_demo
from guanxi.demo.reference import DISTRICTS

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
        Return.objects.order_by("source", "external_id").values_list(
            "source", "external_id", "number", "amount", "quantity", "returned_at", "reason", "order__number"
        ),
        Event.objects.order_by("source", "external_id").values_list(
            "source", "external_id", "kind", "name", "properties", "occurred_at", "customer__name"
        ),
        sorted(
            map(
                repr,
                Address.objects.values_list(
                    "customer__name",
                    "receiver",
                    "phone",
                    "province",
                    "city",
                    "district",
                    "street",
                    "is_default",
                ),
            )
        ),
        sorted(
            map(
                repr,
                Consent.objects.values_list(
                    "customer__name", "channel", "state", "recorded_at", "method", "source", "evidence"
                ),
            )
        ),
        sorted(map(repr, CustomerTag.objects.values_list("customer__name", "tag__name", "added_at"))),
        sorted(map(repr, CustomFieldValue.objects.values_list("customer__name", "definition__key", "value"))),
        sorted(map(repr, Note.objects.values_list("customer__name", "body", "created_at"))),
        sorted(map(repr, IdentityHint.objects.values_list("customer__name", "kind", "value", "source"))),
        sorted(
            map(
                repr,
                MergeSuggestion.objects.values_list(
                    "customer_a__name", "customer_b__name", "score", "evidence"
                ),
            )
        ),
        sorted(map(repr, MergeRecord.objects.values_list("survivor__name", "absorbed__name", "reason"))),
    ]
    for rows in parts:
        for row in rows:
            digest.update(repr(row).encode())
    return digest.hexdigest()


def _group(rows) -> dict:
    grouped = defaultdict(list)
    for key, *rest in rows:
        grouped[key].append(tuple(rest))
    return grouped


def abandoned_carts() -> int:
    """Customers who put something in a cart and placed no order in that store afterwards."""
    last_order = {}
    for customer_id, store_id, placed_at in Order.objects.values_list("customer_id", "store_id", "placed_at"):
        last_order[(customer_id, store_id)] = max(
            placed_at, last_order.get((customer_id, store_id), placed_at)
        )
    carts = Event.objects.filter(kind="add_to_cart").values_list("customer_id", "store_id", "occurred_at")
    return len(
        {
            customer_id
            for customer_id, store_id, at in carts
            if last_order.get((customer_id, store_id), at) <= at
        }
    )


def load_and_roll_back(**kwargs):
    with transaction.atomic():
        summary = load_demo(anchor=REFERENCE_ANCHOR, **kwargs)
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
    summary = load_demo(customers=300, anchor=REFERENCE_ANCHOR)

    assert (summary.units, summary.stores, summary.products, summary.customers) == (2, 6, 240, 300)
    assert summary.duplicates == 1  # customer 100 leaves a second profile
    assert Customer.objects.count() == 300 + summary.duplicates
    assert Order.objects.count() == summary.orders
    assert OrderLine.objects.count() == summary.order_lines
    assert Identity.objects.count() == summary.identities
    assert Return.objects.count() == summary.returns
    assert Event.objects.count() == summary.events > 0
    assert Address.objects.count() == summary.addresses
    assert Consent.objects.count() == summary.consents
    assert CustomerTag.objects.count() == summary.customer_tags
    assert CustomerTag.objects.values("customer").distinct().count() == summary.tagged_customers > 0
    assert CustomFieldValue.objects.count() == summary.custom_values > 0
    assert Note.objects.count() == summary.notes
    assert IdentityHint.objects.count() == summary.identity_hints
    assert TimelineEvent.objects.count() == (
        summary.consents + summary.customer_tags + summary.custom_values + summary.notes + 2 * summary.merges
    )

    lines = defaultdict(lambda: [Decimal("0.00"), 0])
    for order_id, amount, quantity in OrderLine.objects.values_list("order_id", "amount", "quantity"):
        lines[order_id][0] += amount
        lines[order_id][1] += quantity
    revenue = Decimal("0.00")
    stores_by_customer, units_by_customer = defaultdict(set), defaultdict(set)
    for order in Order.objects.all():
        assert (order.total_amount, order.item_count) == tuple(lines[order.id])
        assert order.source == order.store.source and order.unit_id == order.store.unit_id
        assert WINDOW_START <= order.placed_at <= REFERENCE_ANCHOR
        if order.status in (Order.Status.CREATED, Order.Status.CANCELLED):
            assert order.paid_at is None
        else:
            assert order.placed_at <= order.paid_at <= REFERENCE_ANCHOR
        returns = list(order.returns.all())
        if order.status == Order.Status.REFUNDED:
            assert Decimal("0.00") < order.refunded_amount <= order.total_amount
            assert [(r.amount, r.customer_id, r.store_id, r.unit_id) for r in returns] == [
                (order.refunded_amount, order.customer_id, order.store_id, order.unit_id)
            ]
            assert 0 < returns[0].quantity <= order.item_count
            assert order.paid_at < returns[0].returned_at <= REFERENCE_ANCHOR
        else:
            assert order.refunded_amount == Decimal("0.00")
            assert returns == []
        if order.status in Order.SALE_STATUSES:
            revenue += order.total_amount
        stores_by_customer[order.customer_id].add(order.store_id)
        units_by_customer[order.customer_id].add(order.unit_id)
    assert summary.revenue == revenue
    # Unit costs: 45–70 % of the product's list price; the few products without a cost leave it empty.
    list_prices = dict(Product.objects.values_list("sku", "price"))
    costs = list(OrderLine.objects.values_list("sku", "unit_cost"))
    assert 0.8 < sum(cost is not None for _sku, cost in costs) / len(costs) < 1
    assert all(
        Decimal("0.44") <= cost / list_prices[sku] <= Decimal("0.70")
        for sku, cost in costs
        if cost is not None
    )

    assert set(CustomerUnit.objects.values_list("customer_id", "unit_id")) == {
        (customer, unit) for customer, units in units_by_customer.items() for unit in units
    }
    assert len(units_by_customer) == Customer.objects.active().count()
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
    assert not Customer.objects.active().filter(identities__isnull=True).exists()
    nicks = Identity.objects.filter(kind=Identity.Kind.TAOBAO_NICK)
    assert not (
        Customer.objects.filter(orders__store__channel__in=["tmall", "taobao"])
        .exclude(identities__kind=Identity.Kind.TAOBAO_NICK)
        .exists()
    )
    assert set(nicks.values_list("namespace", flat=True)) == {
        "tmall:guanxi-home-flagship",
        "taobao:guanxi-home",
    }
    assert not Customer.objects.filter(name="").exists()

    for customer_id, addresses in _group(
        Address.objects.values_list("customer_id", "is_default", "city", "district", "street")
    ).items():
        assert sum(is_default for is_default, *_rest in addresses) == 1, customer_id
        assert all(district in DISTRICTS[city].split() and street for _d, city, district, street in addresses)
    default_district = dict(Address.objects.filter(is_default=True).values_list("customer_id", "district"))
    for customer_id, district in Customer.objects.values_list("id", "district"):
        assert district == default_district.get(customer_id, "")

    needs = {"sms": Identity.Kind.PHONE, "email": Identity.Kind.EMAIL, "wechat": Identity.Kind.WECHAT_UNIONID}
    kinds = _group(Identity.objects.values_list("customer_id", "kind"))
    for customer_id, rows in _group(
        Consent.objects.order_by("recorded_at").values_list("customer_id", "channel", "state", "source")
    ).items():
        states = defaultdict(list)
        for channel, state, _source in rows:
            assert (needs[channel],) in kinds[customer_id]
            states[channel].append(state)
        assert all(history in (["granted"], ["granted", "withdrawn"]) for history in states.values())
    assert Consent.objects.filter(channel="sms", state="granted", source="下单时勾选接收短信").exists()
    assert Consent.objects.filter(state="withdrawn").exists()

    since = REFERENCE_ANCHOR - timedelta(days=60)
    online = Store.objects.exclude(channel="offline")
    for event in Event.objects.select_related("store"):
        assert since <= event.occurred_at <= REFERENCE_ANCHOR
        assert (
            event.store in online
            and event.unit_id == event.store.unit_id
            and event.source == event.store.source
        )
        assert {"sku", "category", "price"} <= event.properties.keys() or event.kind == "checkout_started"
    assert set(Event.objects.values_list("kind", flat=True)) == {"browse", "add_to_cart", "checkout_started"}
    assert abandoned_carts() > 0


@pytest.mark.django_db
def test_demo_users_sign_in_and_see_their_units():
    summary = load_demo(customers=200, anchor=REFERENCE_ANCHOR)

    roles = {user.username: user.role for user in summary.users}
    assert set(roles.values()) == {
        "system_admin",
        "group_manager",
        "unit_head",
        "unit_admin",
        "marketer",
        "service_agent",
        "sales_rep",
        "sales_manager",
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
    summary = load_demo(
        customers=250, anchor=REFERENCE_ANCHOR, chunk_size=100, progress=lambda *call: calls.append(call)
    )

    assert [(done, total) for done, total, _message in calls] == [
        (0, 250),
        (100, 250),
        (200, 250),
        (250, 250),
        (250, 250),  # merging and suggesting
    ]
    assert all(message for _done, _total, message in calls)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.IMPORT)
    assert entry.object_type == "demo"
    assert f"{summary.customers} customers, {summary.orders} orders" in entry.details


@pytest.mark.django_db
def test_second_load_refuses_and_changes_nothing():
    load_demo(customers=50, anchor=REFERENCE_ANCHOR)
    counts = (Customer.objects.count(), Order.objects.count(), Store.objects.count(), Product.objects.count())

    with pytest.raises(DemoAlreadyLoaded, match="home"):
        load_demo(customers=50, anchor=REFERENCE_ANCHOR)

    assert (
        Customer.objects.count(),
        Order.objects.count(),
        Store.objects.count(),
        Product.objects.count(),
    ) == counts


@pytest.mark.django_db
def test_history_ends_at_the_minute_the_demo_is_loaded():
    before = timezone.now().replace(second=0, microsecond=0)
    load_demo(customers=200)
    after = timezone.now()

    last_order = Order.objects.order_by("-placed_at").values_list("placed_at", flat=True).first()
    last_event = Event.objects.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
    assert before - timedelta(days=3) <= last_order <= after
    assert before - timedelta(days=1) <= last_event <= after


@pytest.mark.django_db
def test_anchor_moves_the_window():
    anchor = datetime(2025, 3, 15, 12, 0, tzinfo=SHANGHAI)
    load_demo(customers=100, anchor=anchor)

    placed = Order.objects.values_list("placed_at", flat=True)
    assert max(placed) <= anchor
    assert min(placed) >= datetime(2023, 3, 16, tzinfo=SHANGHAI)


@pytest.mark.django_db
def test_default_demo_looks_like_a_real_merchant():
    summary = load_demo(anchor=REFERENCE_ANCHOR)

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


@pytest.mark.django_db
def test_default_demo_leaves_duplicates_merged_and_suggested():
    summary = load_demo(anchor=REFERENCE_ANCHOR)

    assert summary.duplicates >= 10
    assert Customer.objects.count() == summary.customers + summary.duplicates
    assert 0.25 <= summary.tagged_customers / summary.customers <= 0.35
    assert set(Tag.objects.values_list("group__name", "name", "colour")) >= {
        ("客户价值", "VIP", "#b91c1c"),
        ("兴趣", "母婴", "#ec4899"),
        ("来源", "直播间", "#10b981"),
    }
    assert Consent.objects.values("customer").distinct().count() >= 0.8 * summary.customers
    assert abandoned_carts() >= 100

    records = list(MergeRecord.objects.select_related("survivor", "absorbed"))
    assert len(records) == summary.merges >= 2
    for record in records:
        assert (record.automatic, record.reason, record.reason_text) == (
            True,
            "customers.merge_strong",
            "Same strong identifier",
        )
        assert record.evidence[0]["code"] in ("same_email", "same_phone")
        assert record.absorbed.status == Customer.Status.MERGED
        assert record.absorbed.merged_into_id == record.survivor_id
        assert record.survivor.first_seen_at < record.absorbed.first_seen_at
        assert not Order.objects.filter(customer=record.absorbed).exists()

    suggestions = list(MergeSuggestion.objects.select_related("customer_a", "customer_b"))
    assert len(suggestions) == summary.merge_suggestions
    assert summary.merge_suggestions + summary.merges == summary.duplicates
    assert {s.state for s in suggestions} == {MergeSuggestion.State.OPEN}
    assert all(s.customer_a.name == s.customer_b.name for s in suggestions)
    assert {reason["code"] for s in suggestions for reason in s.evidence} == {
        "same_name_address",
        "same_taobao_nick",
        "masked_phone_and_name",
    }
    hints = IdentityHint.objects.values_list("value", flat=True)
    assert len(hints) > 0 and all(re.fullmatch(r"1\d{2}\*{4}\d{4}", hint) for hint in hints)
