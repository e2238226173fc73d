"""The daily sales rollup (ADR 0044): the margin report and the dashboard's sales figures read it when the
view is expressible on it and give the figures the order lines give; a refresh after an import, a refund
or an order moved to another day rebuilds only the touched days; a filter the rollup does not keep reads
the lines."""

from datetime import datetime
from decimal import Decimal

import pytest
import time_machine

from guanxi.analytics.models import CustomerMetric, CustomerMonth, LifecycleStage
from guanxi.analytics.rollup import rebuild_customer_counts, refresh_sales_rollup
from guanxi.commerce.actions import upsert_orders
from guanxi.commerce.models import Order, OrderLine, Store
from guanxi.commerce.tests.factories import make_order
from guanxi.core.background import create_job, run_job
from guanxi.reports.tests.data import ATTACK, PERIOD, SHANGHAI


@pytest.fixture
def costed(shop):
    """A-1 (张三, 100.00, 10 Jan): cost 60.00. A-2 (李四, 5 Feb): the 50.00 towel has no cost, the odd
    line (2 × 3.50) costs 2 × 1.50. A-4 (王五, 30.00, 1 Mar) has no cost. B-1 (unit B) costs 50,000.00."""
    OrderLine.objects.filter(order__number="A-1").update(unit_cost=Decimal("60.00"))
    OrderLine.objects.filter(order__number="A-2", sku="X").update(unit_cost=Decimal("1.50"))
    OrderLine.objects.filter(order__number="B-1").update(unit_cost=Decimal("50000.00"))
    make_order(Store.objects.get(name="home-tmall"), shop["wang"], "A-4", "30.00", (2025, 3, 1))
    return shop


def _table(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return [(row.label, *row.values) for row in response.context["result"].rows]


def _margin(client, group, extra=""):
    return _table(client, f"/reports/margin/?group={group}&{PERIOD}{extra}")


# profit, share, revenue, share, cost, margin, revenue with a known cost (%)
BY_CATEGORY = [
    (
        "home_textiles",
        Decimal("40.00"),
        Decimal("90.9"),
        Decimal("180.00"),
        Decimal("96.3"),
        Decimal("60.00"),
        Decimal("40.00"),
        Decimal("55.56"),
    ),
    (
        ATTACK,
        Decimal("4.00"),
        Decimal("9.1"),
        Decimal("7.00"),
        Decimal("3.7"),
        Decimal("3.00"),
        Decimal("57.14"),
        Decimal("100.00"),
    ),
]


def test_the_rollup_gives_the_figures_of_the_lines(client, costed, unit_a_head, manager):
    for user in (unit_a_head, manager):
        client.force_login(user)
        from_lines = {group: _margin(client, group) for group in ("category", "store", "month")}
        refresh_sales_rollup()
        for group, table in from_lines.items():
            assert _margin(client, group) == table, (user.username, group)
        refresh_sales_rollup(full=True)  # the next user starts from a rebuilt rollup
    client.force_login(unit_a_head)
    assert _margin(client, "category") == BY_CATEGORY
    assert _margin(client, "month") == [
        ("2025-01", Decimal("40.00"), Decimal("90.9"), Decimal("100.00"), Decimal("53.5"), Decimal("60.00"),
         Decimal("40.00"), Decimal("100.00")),
        ("2025-02", Decimal("4.00"), Decimal("9.1"), Decimal("57.00"), Decimal("30.5"), Decimal("3.00"),
         Decimal("57.14"), Decimal("12.28")),
        ("2025-03", Decimal("0.00"), Decimal("0.0"), Decimal("30.00"), Decimal("16.0"), Decimal("0.00"),
         None, Decimal("0.00")),
    ]  # fmt: skip


def test_a_view_the_rollup_can_answer_reads_it_and_one_it_cannot_reads_the_lines(client, costed, unit_a_head):
    client.force_login(unit_a_head)
    refresh_sales_rollup()
    make_order(Store.objects.get(name="home-tmall"), costed["zhang"], "A-5", "20.00", (2025, 3, 2))

    # Until the next refresh the rollup does not know A-5: by category (the rollup) the figures stay...
    assert _margin(client, "category") == BY_CATEGORY
    # ...while a customer-class filter, which the rollup does not keep, reads the lines and sees it.
    loyal = _margin(client, "category", "&class=loyal")
    assert [(row[0], row[3]) for row in loyal] == [("home_textiles", Decimal("120.00"))]

    assert refresh_sales_rollup() == {"days": 1, "full": 0}
    assert _margin(client, "category")[0][3] == Decimal("200.00")


def _upsert(order: Order, **changes) -> None:
    fields = {f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields if f.attname != "id"}
    upsert_orders([Order(**(fields | changes))])


def test_an_incremental_refresh_rebuilds_the_days_of_new_refunded_and_moved_orders(
    client, costed, unit_a_head
):
    client.force_login(unit_a_head)
    refresh_sales_rollup()
    tmall = Store.objects.get(name="home-tmall")
    make_order(tmall, costed["li"], "A-6", "45.00", (2025, 4, 8))  # a new order of a new day
    _upsert(Order.objects.get(number="A-1"), status=Order.Status.REFUNDED)  # refunded: out of sales
    # Moved from 1 March to 20 February (business time).
    _upsert(Order.objects.get(number="A-4"), placed_at=datetime(2025, 2, 20, 9, tzinfo=SHANGHAI))

    # 10 January, 1 March and 20 February, 8 April, and the days of the other orders
    # of the customers whose orders changed (张三's A-0 of 31 December 2024).
    assert refresh_sales_rollup() == {"days": 5, "full": 0}

    by_month = _margin(client, "month")
    assert [(row[0], row[3]) for row in by_month] == [
        ("2025-02", Decimal("87.00")),  # A-2's 57.00 and A-4's 30.00
        ("2025-04", Decimal("45.00")),
    ]
    refresh_sales_rollup(full=True)
    assert _margin(client, "month") == by_month  # the same as rebuilt from scratch


@time_machine.travel("2025-02-20 12:00:00+08:00", tick=False)
def test_the_dashboard_s_sales_figures_are_the_same_from_the_rollup(client, costed, unit_a_head, manager):
    for user in (unit_a_head, manager):
        client.force_login(user)
        refresh_sales_rollup(full=True)
        from_rollup = _sales_figures(client)
        from guanxi.analytics.models import SalesRollupMark

        SalesRollupMark.objects.all().delete()  # not built: the dashboard reads the orders and lines
        assert _sales_figures(client) == from_rollup
    client.force_login(unit_a_head)
    refresh_sales_rollup()
    # February: A-2 (57.00 less no refund; 4.00 profit); January: A-1 (100.00, 40.00 profit).
    assert _sales_figures(client) == {
        "revenue": (Decimal("50.00"), Decimal("100.00"), Decimal("0.00")),
        "orders": (1, 1, 0),
        "buyers": (1, 1, 0),
        "profit": (Decimal("4.00"), Decimal("40.00"), Decimal("0.00")),
    }


def _sales_figures(client):
    sections = client.get("/reports/").context["sections"]
    sales = next(section for section in sections if section.key == "sales")
    return {f.key: (f.current, f.previous, f.last_year) for f in sales.figures}


def test_the_metrics_refresh_job_brings_the_rollup_up_to_date(client, costed, unit_a_head):
    client.force_login(unit_a_head)
    run_job(create_job("analytics.refresh", params={"unit": None, "full": True}))
    assert _margin(client, "category")[0][3] == Decimal("180.00")
    make_order(Store.objects.get(name="home-tmall"), costed["li"], "A-7", "12.50", (2025, 5, 4))
    assert _margin(client, "category")[0][3] == Decimal("180.00")  # not refreshed yet

    run_job(create_job("analytics.refresh", params={"unit": None, "full": False}))

    assert _margin(client, "category")[0][3] == Decimal("192.50")


def _customer_figures(client):
    sections = client.get("/reports/").context["sections"]
    customers = next(section for section in sections if section.key == "customers")
    return {f.key: (f.current, f.previous, f.last_year) for f in customers.figures if f.key != "liability"}


@time_machine.travel("2025-03-15 12:00:00+08:00", tick=False)
def test_the_dashboard_s_customer_figures_are_counted_with_the_metrics(client, costed, unit_a_head, manager):
    run_job(create_job("analytics.refresh", params={"unit": None, "full": True}))
    # 李四 counts as lost now (the refresh found nobody lost in this short history): the counts are
    # taken again as a refresh takes them, in the transaction that writes the metric rows.
    CustomerMetric.objects.filter(customer=costed["li"]).update(lifecycle_stage=LifecycleStage.LOST)
    rebuild_customer_counts()
    counted = {}
    for user in (unit_a_head, manager):
        client.force_login(user)
        counted[user.username] = _customer_figures(client)
    # This month (March 2025), last month, March 2024. New: 王五 (1 Mar), 李四 (5 Feb) and, group-wide,
    # 赵六 (unit B, 6 Feb). Lost: 李四, whose last order was in February.
    assert counted == {
        unit_a_head.username: {"new": (1, 1, 0), "lost": (0, 1, 0), "at_risk": (3, None, None)},
        manager.username: {"new": (1, 2, 0), "lost": (0, 1, 0), "at_risk": (4, None, None)},
    }
    CustomerMonth.objects.all().delete()  # not counted yet: the dashboard reads the metric rows
    for user in (unit_a_head, manager):
        client.force_login(user)
        assert _customer_figures(client) == counted[user.username]
