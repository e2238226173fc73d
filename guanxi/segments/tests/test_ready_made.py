"""Each ready-made segment on a hand-built dataset, with the exact members expected."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from guanxi.analytics.models import CustomerMetric
from guanxi.commerce.models import Order, OrderLine
from guanxi.commerce.tests.factories import make_customer, make_store
from guanxi.segments.actions import refresh_segment
from guanxi.segments.models import Segment
from guanxi.segments.ready_made import HOME_TEXTILES, STORE_A, STORE_B, install_ready_made_segments

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 1, 9, 0, tzinfo=SHANGHAI)


def _order(store, customer, number, placed_at, status="completed", category=HOME_TEXTILES, amount="59.00"):
    order = Order.objects.create(
        store=store,
        unit=store.unit,
        customer=customer,
        source=store.source,
        external_id=number,
        number=number,
        status=status,
        total_amount=Decimal(amount),
        placed_at=placed_at,
    )
    OrderLine.objects.create(
        order=order,
        sku="SKU",
        name="x",
        category=category,
        unit_price=Decimal(amount),
        amount=Decimal(amount),
    )
    return order


def _birthday(age: int, days_after_birthday: int = 0) -> date:
    """A birthday that makes the person exactly `age` on NOW, `days_after_birthday` past the birthday."""
    return NOW.date().replace(year=NOW.year - age) - timedelta(days=days_after_birthday)


def _members(key: str) -> set[str]:
    segment = Segment.objects.get(key=key)
    refresh_segment(segment, now=NOW)
    return set(segment.memberships.filter(exited_at__isnull=True).values_list("customer__name", flat=True))


@pytest.fixture
def stores(unit_a):
    return {
        "tmall": make_store(unit_a, "Tmall", "tmall"),
        "wechat": make_store(unit_a, "WeChat", "wechat_mp"),
    }


def _demo_sources(stores):
    stores["tmall"].source = STORE_A
    stores["tmall"].save()
    stores["wechat"].source = STORE_B
    stores["wechat"].save()


def test_mothers_day_audience(unit_a, stores):
    tmall = stores["tmall"]
    recent = NOW - timedelta(days=30)
    cases = {
        "buyer_25": ("female", _birthday(25), recent, HOME_TEXTILES, "completed"),
        "buyer_49": ("female", _birthday(49, 364), recent, HOME_TEXTILES, "paid"),
        "too_young": ("female", _birthday(24, 364), recent, HOME_TEXTILES, "completed"),
        "mother_50": ("female", _birthday(50), recent, HOME_TEXTILES, "completed"),
        "mother_65": ("female", _birthday(65, 364), recent, HOME_TEXTILES, "completed"),
        "too_old": ("female", _birthday(66), recent, HOME_TEXTILES, "completed"),
        "son_30": ("male", _birthday(30), recent, HOME_TEXTILES, "completed"),
        "man_50": ("male", _birthday(50), recent, HOME_TEXTILES, "completed"),
        "no_birthday": ("female", None, recent, HOME_TEXTILES, "completed"),
        "bedding_only": ("female", _birthday(30), recent, "bedding", "completed"),
        "long_ago": ("female", _birthday(30), NOW - timedelta(days=366), HOME_TEXTILES, "completed"),
        "unpaid_only": ("female", _birthday(30), recent, HOME_TEXTILES, "created"),
    }
    for name, (gender, birthday, placed, category, status) in cases.items():
        customer = make_customer(name, [unit_a], gender=gender, birthday=birthday)
        _order(tmall, customer, name, placed, status=status, category=category)
    install_ready_made_segments()
    assert _members("mothers-day") == {"buyer_25", "buyer_49", "mother_50", "mother_65", "son_30"}


def test_unpaid_in_the_last_24_hours(unit_a, stores):
    tmall = stores["tmall"]
    for name, hours, status in [
        ("waiting", 2, "created"),
        ("edge", 24, "created"),
        ("yesterday_morning", 25, "created"),
        ("paid", 1, "paid"),
        ("cancelled", 1, "cancelled"),
    ]:
        customer = make_customer(name, [unit_a])
        _order(tmall, customer, name, NOW - timedelta(hours=hours), status=status)
    install_ready_made_segments()
    assert _members("unpaid-24h") == {"waiting", "edge"}


def test_bought_in_store_a_never_in_store_b(unit_a, stores):
    _demo_sources(stores)
    tmall, wechat = stores["tmall"], stores["wechat"]
    only_tmall = make_customer("only_tmall", [unit_a])
    _order(tmall, only_tmall, "1", NOW - timedelta(days=3))
    both = make_customer("both", [unit_a])
    _order(tmall, both, "2", NOW - timedelta(days=3))
    _order(wechat, both, "3", NOW - timedelta(days=400))
    only_wechat = make_customer("only_wechat", [unit_a])
    _order(wechat, only_wechat, "4", NOW - timedelta(days=3))
    tmall_unpaid_wechat = make_customer("tmall_cancelled_wechat", [unit_a])
    _order(tmall, tmall_unpaid_wechat, "5", NOW - timedelta(days=3))
    _order(wechat, tmall_unpaid_wechat, "6", NOW - timedelta(days=3), status="cancelled")
    make_customer("nobody", [unit_a])
    install_ready_made_segments()
    assert _members("store-a-not-b") == {"only_tmall", "tmall_cancelled_wechat"}


def test_store_segment_is_skipped_without_the_demo_stores(unit_a, stores):
    keys = {segment.key for segment in install_ready_made_segments()}
    assert keys == {"mothers-day", "unpaid-24h", "win-back", "new-30-days", "dormant-vip"}


def _metric(customer, **fields):
    CustomerMetric.objects.create(customer=customer, unit=None, **fields)


def test_win_back(unit_a):
    for name, clv, risk in [
        ("slipping", "1000.00", 0.5),
        ("slipping_more", "5000.00", 0.9),
        ("lost", "5000.00", 0.95),
        ("safe", "5000.00", 0.2),
        ("small", "999.99", 0.7),
        ("unknown", None, 0.7),
    ]:
        customer = make_customer(name, [unit_a])
        _metric(customer, predicted_clv=Decimal(clv) if clv else None, churn_risk=risk)
    unit_only = make_customer("unit_row_only", [unit_a])
    CustomerMetric.objects.create(
        customer=unit_only, unit=unit_a, predicted_clv=Decimal("5000"), churn_risk=0.7
    )
    install_ready_made_segments()
    assert _members("win-back") == {"slipping", "slipping_more"}


def test_new_customers_of_the_last_30_days(unit_a):
    for name, age in [
        ("today", timedelta(hours=1)),
        ("edge", timedelta(days=30)),
        ("old", timedelta(days=31)),
    ]:
        make_customer(name, [unit_a], first_seen_at=NOW - age)
    install_ready_made_segments()
    assert _members("new-30-days") == {"today", "edge"}


def test_dormant_vips(unit_a):
    for name, abc, days in [
        ("dormant_vip", "A", 200),
        ("active_vip", "A", 20),
        ("edge_vip", "A", 180),
        ("dormant_regular", "B", 400),
        ("vip_never_ordered", "A", None),
    ]:
        customer = make_customer(name, [unit_a])
        _metric(customer, abc_class=abc, last_order_at=NOW - timedelta(days=days) if days else None)
    install_ready_made_segments()
    assert _members("dormant-vip") == {"dormant_vip"}


def test_installing_twice_changes_nothing(unit_a, stores):
    _demo_sources(stores)
    first = {(s.pk, s.key) for s in install_ready_made_segments()}
    second = {(s.pk, s.key) for s in install_ready_made_segments()}
    assert first == second
    assert Segment.objects.count() == 6
