"""The margin report (seed 001's 客户利润分析) on the reports' small fixed shop, with unit costs on some
lines: exact figures, a line without a cost kept out of cost and profit but counted in the revenue and
the "cost known" share, a group without any cost never shown as 100 % margin, drill-down, export,
scoping and the dashboard's gross profit."""

import csv
import io
from decimal import Decimal

import pytest
import time_machine

from guanxi.accounts.roles import Role
from guanxi.commerce.models import OrderLine, Store
from guanxi.commerce.tests.factories import make_order
from guanxi.loyalty import actions as loyalty
from guanxi.reports.tests.data import PERIOD


@pytest.fixture
def costed(shop):
    """A-1 (张三, 100.00): cost 60.00. A-2 (李四): the 50.00 towel has no cost, the odd line (2 × 3.50)
    costs 2 × 1.50. A-4 (王五, 30.00) has no cost at all. B-1 (赵六, unit B, 98,765.00) costs 50,000.00."""
    OrderLine.objects.filter(order__number="A-1").update(unit_cost=Decimal("60.00"))
    OrderLine.objects.filter(order__number="A-2", sku="X").update(unit_cost=Decimal("1.50"))
    OrderLine.objects.filter(order__number="B-1").update(unit_cost=Decimal("50000.00"))
    tmall = Store.objects.get(name="home-tmall")
    make_order(tmall, shop["wang"], "A-4", "30.00", (2025, 3, 1))
    return shop


def _result(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.context["result"]


def _table(result):
    return [(row.label, *row.values) for row in result.rows]


def test_margin_by_customer_class_counts_only_lines_with_a_known_cost(client, costed, unit_a_head):
    client.force_login(unit_a_head)

    result = _result(client, f"/reports/margin/?group=class&{PERIOD}")

    assert result.columns == (
        "Customer class",
        "Gross profit",
        "Gross profit, share (%)",
        "Revenue",
        "Revenue, share (%)",
        "Cost",
        "Margin (%)",
        "Revenue with a known cost (%)",
    )
    # profit, share, revenue, share, cost, margin (profit ÷ revenue with a cost), revenue with a cost
    assert _table(result) == [
        (
            "Loyal customer",
            Decimal("40.00"),
            Decimal("90.9"),
            Decimal("100.00"),
            Decimal("53.5"),
            Decimal("60.00"),
            Decimal("40.00"),
            Decimal("100.00"),
        ),
        # 李四: 57.00 of revenue, of which only the 7.00 line has a cost (3.00): 4.00 profit, 57.14 %.
        (
            "New customer",
            Decimal("4.00"),
            Decimal("9.1"),
            Decimal("57.00"),
            Decimal("30.5"),
            Decimal("3.00"),
            Decimal("57.14"),
            Decimal("12.28"),
        ),
        # 王五: no line has a cost, so no profit and no margin (not 100 %), and 0 % of revenue costed.
        (
            "Old customer",
            Decimal("0.00"),
            Decimal("0.0"),
            Decimal("30.00"),
            Decimal("16.0"),
            Decimal("0.00"),
            None,
            Decimal("0.00"),
        ),
    ]
    # Margin 44 ÷ 107; 107 of 187 of revenue has a known cost.
    assert result.totals == (
        Decimal("44.00"),
        Decimal("100.0"),
        Decimal("187.00"),
        Decimal("100.0"),
        Decimal("63.00"),
        Decimal("41.12"),
        Decimal("57.22"),
    )
    assert result.chart()["values"] == [40.0, 4.0, 0.0]


def test_margin_for_the_group_by_store_abc_and_month(client, costed, manager):
    client.force_login(manager)

    stores = _result(client, f"/reports/margin/?group=store&{PERIOD}")
    abc = _result(client, f"/reports/margin/?group=abc&{PERIOD}")
    months = _result(client, f"/reports/margin/?group=month&{PERIOD}")

    tmall, douyin = Store.objects.get(name="home-tmall"), Store.objects.get(name="beauty-douyin")
    assert [(row.label, row.token, row.values[0], row.values[2]) for row in stores.rows] == [
        (douyin.name, str(douyin.pk), Decimal("48765.00"), Decimal("98765.00")),
        (tmall.name, str(tmall.pk), Decimal("44.00"), Decimal("187.00")),
    ]
    # The group reads the organisation-wide metric rows: 张三 and 赵六 are A.
    assert [(row.label, row.values[0], row.values[5]) for row in abc.rows] == [
        ("A", Decimal("48805.00"), Decimal("49.37")),
        ("B", Decimal("4.00"), Decimal("57.14")),
        ("C", Decimal("0.00"), None),
    ]
    assert [(row.label, row.values[0], row.values[6]) for row in months.rows] == [
        ("2025-01", Decimal("40.00"), Decimal("100.00")),
        ("2025-02", Decimal("48769.00"), Decimal("99.95")),
        ("2025-03", Decimal("0.00"), Decimal("0.00")),
    ]


def test_margin_by_tier_and_filtered_by_customer_class(client, costed, unit_a, unit_a_head):
    programme = loyalty.create_programme(unit=unit_a, name="家纺会员")
    membership = loyalty.enrol(programme, costed["zhang"])
    client.force_login(unit_a_head)

    tiers = _result(client, f"/reports/margin/?group=tier&{PERIOD}")
    new_only = _result(client, f"/reports/margin/?group=category&class=new&{PERIOD}")

    assert [(row.label, row.values[0], row.values[2]) for row in tiers.rows] == [
        (membership.tier.name, Decimal("40.00"), Decimal("100.00")),
        ("Not a member", Decimal("4.00"), Decimal("87.00")),
    ]
    assert [(row.label, row.values[0], row.values[6]) for row in new_only.rows] == [
        ("=cmd|' /C calc'!A0", Decimal("4.00"), Decimal("100.00")),
        ("home_textiles", Decimal("0.00"), Decimal("0.00")),
    ]


def test_margin_drills_down_to_the_customers_and_stays_in_the_unit(client, costed, unit_a_head):
    client.force_login(unit_a_head)

    old = client.get(f"/reports/margin/drill/?group=class&{PERIOD}&value=old")
    total = client.get(f"/reports/margin/drill/?{PERIOD}")

    assert [row[0] for row in old.context["drilled"].table.rows] == [costed["wang"].pk]
    assert [row[0] for row in total.context["drilled"].table.rows] == sorted(
        [costed["zhang"].pk, costed["li"].pk, costed["wang"].pk]
    )
    assert client.get("/reports/margin/?unit=beauty").status_code == 404
    page = client.get(f"/reports/margin/?group=store&{PERIOD}")
    assert "98765" not in page.content.decode()


def test_margin_exports_its_table(client, costed, unit_a_head):
    client.force_login(unit_a_head)

    response = client.get(f"/reports/margin/?group=class&{PERIOD}&format=csv")

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Customer class", "Gross profit"]
    assert rows[1] == ["Loyal customer", "40.00", "90.9", "100.00", "53.5", "60.00", "40.00", "100.00"]
    assert rows[3] == ["Old customer", "0.00", "0.0", "30.00", "16.0", "0.00", "", "0.00"]


def test_margin_needs_the_analytics_read_model(client, costed, make_user, unit_a):
    lead = make_user("lead", Role.SALES_MANAGER, [unit_a])
    client.force_login(lead)

    assert client.get("/reports/margin/").status_code == 403
    home = client.get("/reports/")
    assert "margin" not in [report.slug for report in home.context["reports"]]
    figures = [f.key for section in home.context["sections"] for f in section.figures]
    assert "profit" not in figures


@time_machine.travel("2025-03-15 12:00:00+08:00", tick=False)
def test_the_dashboard_shows_gross_profit_against_last_month(client, costed, unit_a_head):
    client.force_login(unit_a_head)

    sections = client.get("/reports/").context["sections"]

    profit = next(f for s in sections if s.key == "sales" for f in s.figures if f.key == "profit")
    # March: only 王五's uncosted 30.00; February: 李四's 4.00 of profit.
    assert (profit.current, profit.previous, profit.last_year) == (
        Decimal("0.00"),
        Decimal("4.00"),
        Decimal("0.00"),
    )
    assert (profit.report, profit.query) == ("margin", "unit=home&start=2025-03&end=2025-03")
