from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from guanxi.accounts.roles import Role
from guanxi.commerce.models import Channel, Order
from guanxi.commerce.tests.factories import SHANGHAI, make_customer, make_order, make_store
from guanxi.web.dashboard import Slice, build_dashboard

TODAY = date(2025, 6, 15)


@pytest.fixture
def dataset(unit_a, unit_b):
    home_tmall = make_store(unit_a, "home-tmall", Channel.TMALL)
    home_jd = make_store(unit_a, "home-jd", Channel.JD)
    beauty = make_store(unit_b, "beauty-douyin", Channel.DOUYIN)
    zhang = make_customer("张三", [unit_a], source_channel="tmall")
    li = make_customer("李四", [unit_a, unit_b], source_channel="douyin")
    wang = make_customer("王五", [unit_b])
    make_order(home_tmall, zhang, "A-1", "100.00", (2025, 5, 10))
    edge = make_order(home_tmall, zhang, "A-2", "50.50", (2025, 6, 1), status=Order.Status.PAID)
    # 00:30 on 1 June in Shanghai is still 31 May in UTC: it must count in June.
    Order.objects.filter(pk=edge.pk).update(placed_at=datetime(2025, 6, 1, 0, 30, tzinfo=SHANGHAI))
    make_order(home_jd, li, "A-3", "80.00", (2025, 6, 2), status=Order.Status.CANCELLED)
    make_order(home_tmall, li, "A-4", "20.00", (2023, 6, 30))  # before the 24-month period
    make_order(beauty, li, "B-1", "200.00", (2025, 6, 3), status=Order.Status.SHIPPED)
    make_order(beauty, wang, "B-2", "30.00", (2024, 12, 24), status=Order.Status.REFUNDED)


def test_group_manager_sees_every_unit(dataset, manager):
    figures = build_dashboard(manager, today=TODAY)

    assert figures.period_start == date(2023, 7, 1)
    assert figures.period_end == date(2025, 6, 30)
    assert figures.customers == 3
    assert figures.orders == 5
    assert figures.sale_orders == 3
    assert figures.revenue == Decimal("350.50")
    assert figures.average_order_value == Decimal("116.83")
    assert (figures.buyers, figures.repeat_buyers, figures.repeat_share) == (2, 1, Decimal("50.0"))
    assert len(figures.months) == 24
    assert figures.months[0].month == date(2023, 7, 1)
    by_month = {month.month: (month.orders, month.revenue) for month in figures.months if month.orders}
    assert by_month == {
        date(2024, 12, 1): (1, Decimal("0")),
        date(2025, 5, 1): (1, Decimal("100.00")),
        date(2025, 6, 1): (3, Decimal("250.50")),
    }
    assert figures.customers_by_unit == (Slice("Beauty", 2), Slice("Home textiles", 2))
    assert figures.customers_by_source == (Slice("Douyin", 1), Slice("Tmall", 1), Slice("Unknown", 1))
    assert figures.orders_by_channel == (Slice("Douyin", 2), Slice("Tmall", 2), Slice("JD", 1))
    assert figures.has_data is True


def test_unit_head_sees_only_their_unit(dataset, unit_a_head):
    figures = build_dashboard(unit_a_head, today=TODAY)

    assert figures.customers == 2
    assert figures.orders == 3
    assert figures.sale_orders == 2
    assert figures.revenue == Decimal("150.50")
    assert figures.average_order_value == Decimal("75.25")
    assert (figures.buyers, figures.repeat_buyers, figures.repeat_share) == (1, 1, Decimal("100.0"))
    assert figures.customers_by_unit == (Slice("Home textiles", 2),)
    assert figures.orders_by_channel == (Slice("Tmall", 2), Slice("JD", 1))


def test_orders_in_another_currency_are_not_added_to_revenue(unit_a, manager):
    store = make_store(unit_a, "home-shopify", Channel.SHOPIFY)
    make_order(store, None, "S-1", "10.00", (2025, 6, 1))
    usd = make_order(store, None, "S-2", "99.00", (2025, 6, 2))
    Order.objects.filter(pk=usd.pk).update(currency="USD")

    figures = build_dashboard(manager, today=TODAY)

    assert (figures.sale_orders, figures.other_currency_sale_orders) == (2, 1)
    assert figures.revenue == Decimal("10.00")
    assert figures.average_order_value == Decimal("10.00")


def test_empty_database_has_no_figures(manager):
    figures = build_dashboard(manager, today=TODAY)

    assert figures.has_data is False
    assert (figures.customers, figures.orders, figures.revenue) == (0, 0, Decimal("0.00"))
    assert figures.average_order_value is None
    assert figures.repeat_share is None


def _this_month_dataset(unit_a, unit_b):
    today = timezone.localdate(timezone=SHANGHAI)
    placed = (today.year, today.month, today.day)
    zhang = make_customer("张三", [unit_a])
    wang = make_customer("王五", [unit_b])
    make_order(make_store(unit_a, "home-tmall"), zhang, "A-1", "1234.50", placed)
    make_order(make_store(unit_b, "beauty-jd", Channel.JD), wang, "B-1", "8000.00", placed)


def test_page_shows_the_unit_heads_figures_only(client, unit_a, unit_b, unit_a_head):
    _this_month_dataset(unit_a, unit_b)
    client.force_login(unit_a_head)

    page = client.get("/").content.decode()

    assert '<div class="kpi-value" data-kpi="revenue" title="¥1,234.50">¥1,234.50</div>' in page
    assert '<div class="kpi-value" data-kpi="customers">1</div>' in page
    assert "¥9,234.50" not in page
    assert "Beauty" not in page
    assert 'id="chart-monthly"' in page


def test_page_shows_every_unit_to_the_group_manager(client, unit_a, unit_b, manager):
    _this_month_dataset(unit_a, unit_b)
    client.force_login(manager)

    page = client.get("/").content.decode()

    assert '<div class="kpi-value" data-kpi="revenue" title="¥9,234.50">¥9,234.50</div>' in page
    assert '<div class="kpi-value" data-kpi="aov">¥4,617.25</div>' in page
    assert "All business units" in page


def test_empty_page_says_there_is_no_data(client, manager):
    client.force_login(manager)

    page = client.get("/").content.decode()

    assert "No data yet" in page
    assert "data-chart=" not in page
    assert "echarts.min.js" not in page


def test_dashboard_needs_a_login(client, organisation):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_analyst_without_units_sees_nothing_of_the_units(client, unit_a, unit_b, make_user):
    _this_month_dataset(unit_a, unit_b)
    client.force_login(make_user("analyst", Role.ANALYST))

    assert "No data yet" in client.get("/").content.decode()
