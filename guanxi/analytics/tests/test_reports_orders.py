"""Order-based store analyses on a small hand-built dataset with hand-computed answers."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from guanxi.analytics.reports import orders as reports
from guanxi.commerce.models import Channel, Order, OrderLine
from guanxi.commerce.tests.factories import SHANGHAI, make_customer, make_order, make_store

NOW = datetime(2025, 6, 20, 12, 0, tzinfo=SHANGHAI)
MOBILE, PC, APP, OFFLINE = Order.Device.MOBILE, Order.Device.PC, Order.Device.APP, Order.Device.OFFLINE
D = Decimal


def _move(order: Order, *when: int) -> None:
    """Place an order at an exact Shanghai time (the factory places orders at noon)."""
    Order.objects.filter(pk=order.pk).update(placed_at=datetime(*when, tzinfo=SHANGHAI))


@pytest.fixture
def shop(unit_a, unit_b):
    build_shop(unit_a, unit_b)


def build_shop(unit_a, unit_b):
    """Unit A: four customers and a guest over Nov 2024 – May 2025. Unit B: one earlier order of c1
    and one large order of its own customer."""
    tmall = make_store(unit_a, "home-tmall", Channel.TMALL)
    jd = make_store(unit_a, "home-jd", Channel.JD)
    beauty = make_store(unit_b, "beauty-douyin", Channel.DOUYIN)
    c1 = make_customer("c1", [unit_a, unit_b], province="广东")
    c2 = make_customer("c2", [unit_a], province="浙江")
    c3 = make_customer("c3", [unit_a], province="广东")
    c4 = make_customer("c4", [unit_a])
    c6 = make_customer("c6", [unit_b], province="上海")

    make_order(tmall, c1, "A-1", "100.00", (2025, 1, 10), device=MOBILE)
    make_order(tmall, c1, "A-2", "50.00", (2025, 2, 5), device=PC)
    make_order(tmall, c1, "A-3", "30.00", (2025, 4, 1), device=MOBILE)
    make_order(jd, c2, "A-4", "200.00", (2025, 1, 20), device=PC)
    make_order(jd, c2, "A-5", "20.00", (2025, 1, 25), device=MOBILE)  # same month: still new
    make_order(jd, c2, "A-6", "80.00", (2025, 3, 3), device=APP)
    make_order(tmall, c3, "A-7", "60.00", (2025, 2, 14), device=MOBILE)
    make_order(tmall, c3, "A-8", "40.00", (2025, 2, 28), device=PC, status=Order.Status.CANCELLED)
    # 00:30 on 1 May in Shanghai is still 30 April in UTC: it belongs to May.
    _move(make_order(tmall, c3, "A-9", "70.00", (2025, 5, 1), device=MOBILE), 2025, 5, 1, 0, 30)
    make_order(tmall, c4, "A-10", "300.00", (2024, 11, 11), device=MOBILE)
    late = make_order(tmall, c4, "A-11", "10.00", (2025, 1, 1), device=OFFLINE)
    _move(late, 2025, 1, 1, 0, 10)
    OrderLine.objects.create(
        order=late,
        sku="",
        name="Gift wrap",
        category="",
        quantity=1,
        unit_price=D("15.00"),
        amount=D("15.00"),
    )
    make_order(tmall, None, "A-12", "25.00", (2025, 3, 15), device=MOBILE)  # a guest
    usd = make_order(tmall, c1, "A-13", "999.00", (2025, 3, 10))
    Order.objects.filter(pk=usd.pk).update(currency="USD")
    make_order(jd, c2, "A-14", "500.00", (2025, 5, 10), status=Order.Status.REFUNDED)
    make_order(tmall, c1, "A-15", "5000.00", (2025, 7, 1))  # in the future: ignored

    make_order(beauty, c1, "B-1", "500.00", (2024, 10, 1))
    make_order(beauty, c6, "B-2", "98765.00", (2025, 5, 15))


@pytest.fixture
def unit_a_orders(shop, unit_a):
    return Order.objects.filter(unit=unit_a)


def test_last_sale_month_ignores_future_orders(unit_a_orders):
    assert reports.last_sale_month(unit_a_orders, "CNY", NOW) == date(2025, 5, 1)


def test_cohort_matrix(unit_a_orders):
    matrix = reports.cohort_retention(unit_a_orders, "CNY", date(2025, 5, 1))

    none6, none8, none9 = (None,) * 6, (None,) * 8, (None,) * 9
    assert matrix.offsets == 12
    assert [(row.month, row.customers, row.retained) for row in matrix.rows] == [
        (date(2024, 11, 1), 1, (0, 1, 0, 0, 0, 0, *none6)),
        (date(2025, 1, 1), 2, (1, 1, 1, 0, *none8)),
        (date(2025, 2, 1), 1, (0, 0, 1, *none9)),
    ]
    assert matrix.rows[1].shares[:5] == (D("50.0"), D("50.0"), D("50.0"), D("0.0"), None)


def test_cohorts_start_at_the_first_order_inside_the_scope(shop, manager):
    everything = Order.objects.restrict(manager, "view")

    matrix = reports.cohort_retention(everything, "CNY", date(2025, 5, 1))

    # Across all units c1 first bought in October 2024 (unit B), so January is not their first month.
    assert [(row.month, row.customers) for row in matrix.rows] == [
        (date(2024, 10, 1), 1),
        (date(2024, 11, 1), 1),
        (date(2025, 1, 1), 1),
        (date(2025, 2, 1), 1),
        (date(2025, 5, 1), 1),
    ]
    assert matrix.rows[0].retained[:7] == (0, 0, 1, 1, 0, 1, 0)


def test_returning_revenue_share(unit_a_orders):
    splits = reports.returning_revenue(unit_a_orders, "CNY", date(2025, 5, 1))

    assert [(s.month, s.new, s.returning, s.returning_share) for s in splits] == [
        (date(2024, 11, 1), D("300.00"), D("0.00"), D("0.0")),
        (date(2024, 12, 1), D("0.00"), D("0.00"), None),
        (date(2025, 1, 1), D("320.00"), D("10.00"), D("3.0")),
        (date(2025, 2, 1), D("60.00"), D("50.00"), D("45.5")),
        (date(2025, 3, 1), D("25.00"), D("80.00"), D("76.2")),
        (date(2025, 4, 1), D("0.00"), D("30.00"), D("100.0")),
        (date(2025, 5, 1), D("0.00"), D("70.00"), D("100.0")),
    ]


def test_returning_share_depends_on_the_scope(shop, manager):
    splits = reports.returning_revenue(Order.objects.restrict(manager, "view"), "CNY", date(2025, 5, 1))

    january = next(s for s in splits if s.month == date(2025, 1, 1))
    assert (january.new, january.returning) == (D("220.00"), D("110.00"))
    assert splits[0].month == date(2024, 10, 1)


def test_device_share(unit_a_orders):
    months = reports.device_share(unit_a_orders, "CNY", date(2025, 5, 1))

    assert [
        (m.month, m.mobile, m.pc, m.other, m.mobile_orders, m.pc_orders, m.other_orders) for m in months
    ] == [
        (date(2024, 11, 1), D("300.00"), D("0.00"), D("0.00"), 1, 0, 0),
        (date(2024, 12, 1), D("0.00"), D("0.00"), D("0.00"), 0, 0, 0),
        (date(2025, 1, 1), D("120.00"), D("200.00"), D("10.00"), 2, 1, 1),
        (date(2025, 2, 1), D("60.00"), D("50.00"), D("0.00"), 1, 1, 0),
        (date(2025, 3, 1), D("105.00"), D("0.00"), D("0.00"), 2, 0, 0),
        (date(2025, 4, 1), D("30.00"), D("0.00"), D("0.00"), 1, 0, 0),
        (date(2025, 5, 1), D("70.00"), D("0.00"), D("0.00"), 1, 0, 0),
    ]
    assert [(m.mobile_share, m.pc_share) for m in months[2:4]] == [
        (D("36.4"), D("60.6")),
        (D("54.5"), D("45.5")),
    ]
    assert months[1].mobile_share is None


def test_pareto_points_and_abc_classes(unit_a, make_user):
    store = make_store(unit_a, "home-tmall")
    for number, spend in enumerate(["400.00", "250.00", "150.00", "100.00", "50.00", "30.00", "20.00"]):
        customer = make_customer(f"p{number}", [unit_a])
        make_order(store, customer, f"P-{number}", spend, (2025, 3, 1))
    make_order(store, None, "P-guest", "1000.00", (2025, 3, 2))  # guests have no place on the curve

    curve = reports.pareto(Order.objects.filter(unit=unit_a), "CNY")

    assert (curve.customers, curve.revenue) == (7, D("1000.00"))
    assert [(p.customer_share, p.revenue_share) for p in curve.points] == [
        (D("0.0"), D("0.0")),
        (D("14.3"), D("40.0")),
        (D("28.6"), D("65.0")),
        (D("42.9"), D("80.0")),
        (D("57.1"), D("90.0")),
        (D("71.4"), D("95.0")),
        (D("85.7"), D("98.0")),
        (D("100.0"), D("100.0")),
    ]
    assert curve.classes == (
        reports.AbcFigures("A", 3, D("800.00"), D("42.9"), D("80.0")),
        reports.AbcFigures("B", 2, D("150.00"), D("28.6"), D("15.0")),
        reports.AbcFigures("C", 2, D("50.00"), D("28.6"), D("5.0")),
    )


def test_pareto_of_an_empty_shop(unit_a):
    curve = reports.pareto(Order.objects.filter(unit=unit_a), "CNY")

    assert (curve.customers, curve.revenue, curve.points, curve.classes) == (0, D("0.00"), (), ())


@pytest.fixture
def three_years(unit_a):
    return build_three_years(unit_a)


def build_three_years(unit_a):
    """Every month of 2022–2024 sells 100, June 200, December 300/400/200. December 2021 (a partial
    first year) and 2025 (not over) are not used."""
    store = make_store(unit_a, "home-tmall")
    customer = make_customer("seasonal", [unit_a])
    december = {2022: "300.00", 2023: "400.00", 2024: "200.00"}
    for year in (2022, 2023, 2024):
        for month in range(1, 13):
            amount = december[year] if month == 12 else "200.00" if month == 6 else "100.00"
            make_order(store, customer, f"S-{year}-{month}", amount, (year, month, 15))
    make_order(store, customer, "S-2021", "5000.00", (2021, 12, 5))
    make_order(store, customer, "S-2025", "5000.00", (2025, 1, 5))
    return Order.objects.filter(unit=unit_a)


def test_seasonal_index_over_three_years(three_years):
    index = reports.seasonal_index(three_years, "CNY", NOW)

    # Total 4,500 over 36 months: 125 a month. Ordinary months average 100 (80%), June 200 (160%),
    # December (300 + 400 + 200) / 3 = 300 (240%).
    assert index.years == (2022, 2023, 2024)
    assert (index.total, index.monthly_average) == (D("4500.00"), D("125.00"))
    assert [(m.month, m.average, m.index, m.index_percent) for m in index.months] == [
        (month, *((D("200.00"), D("1.6000"), D("160.0")) if month == 6
                  else (D("300.00"), D("2.4000"), D("240.0")) if month == 12
                  else (D("100.00"), D("0.8000"), D("80.0"))))
        for month in range(1, 13)
    ]  # fmt: skip


def test_monthly_targets_from_an_annual_target(three_years):
    index = reports.seasonal_index(three_years, "CNY", NOW)

    targets = reports.monthly_targets(index, D("120000"))
    rounded = reports.monthly_targets(index, D("1000"))

    assert [(t.month, t.target) for t in targets] == [
        (m, D("16000.00") if m == 6 else D("24000.00") if m == 12 else D("8000.00")) for m in range(1, 13)
    ]
    assert sum(t.target for t in targets) == D("120000.00")
    assert [t.target for t in rounded][4:7] == [D("66.67"), D("133.33"), D("66.67")]
    assert rounded[11].target == D("200.00")


def test_seasonal_index_uses_at_most_the_last_three_full_years(three_years, unit_a):
    store = make_store(unit_a, "home-jd", Channel.JD)
    customer = make_customer("older", [unit_a])
    make_order(store, customer, "S-2020", "100.00", (2020, 1, 3))  # 2021 becomes a full year

    index = reports.seasonal_index(Order.objects.filter(unit=unit_a), "CNY", NOW)

    assert index.years == (2022, 2023, 2024)


def test_seasonal_index_needs_a_full_year(unit_a):
    store = make_store(unit_a, "home-tmall")
    make_order(store, None, "X-1", "100.00", (2024, 3, 1))
    make_order(store, None, "X-2", "100.00", (2025, 3, 1))

    index = reports.seasonal_index(Order.objects.filter(unit=unit_a), "CNY", NOW)

    assert (index.years, index.months) == ((), ())
    assert reports.monthly_targets(index, D("1000")) == ()


def test_refunds_are_taken_off_revenue(unit_a):
    store = make_store(unit_a, "home-tmall")
    customer = make_customer("r", [unit_a])
    order = make_order(store, customer, "R-1", "100.00", (2025, 3, 1))
    Order.objects.filter(pk=order.pk).update(refunded_amount=D("40.00"))
    orders = Order.objects.filter(unit=unit_a)

    assert reports.pareto(orders, "CNY").revenue == D("60.00")
    assert reports.returning_revenue(orders, "CNY", date(2025, 3, 1))[0].new == D("60.00")
