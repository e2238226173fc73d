"""The spec's reports over HTTP on a small fixed dataset: exact figures, unit scoping, drill-down,
permalinks and formula-safe, audited exports."""

import csv
import io
from decimal import Decimal

from openpyxl import load_workbook

from guanxi.accounts.roles import Role
from guanxi.core.models import AuditEntry
from guanxi.reports.tests.data import ATTACK, PERIOD


def _rows(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.context["result"]


def _table(result):
    return [(row.label, *row.values) for row in result.rows]


def test_contribution_by_customer_class_in_a_unit(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    result = _rows(client, "/reports/contribution/?group=class")

    assert _table(result) == [
        ("Loyal customer", Decimal("300.00"), Decimal("66.7"), 1, Decimal("33.3"), Decimal("300.00")),
        ("New customer", Decimal("100.00"), Decimal("22.2"), 1, Decimal("33.3"), Decimal("100.00")),
        ("Old customer", Decimal("50.00"), Decimal("11.1"), 1, Decimal("33.3"), Decimal("50.00")),
    ]
    assert result.totals == (Decimal("450.00"), Decimal("100.0"), 3, Decimal("100.0"), Decimal("150.00"))


def test_contribution_shows_the_pareto_curve_of_the_unit_s_customers(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    response = client.get("/reports/contribution/")
    curve = response.context["charts"]["curve"]

    # Spends 300, 100 and 50 of 450: the top third of customers makes 66.7 % of spend.
    assert curve["points"] == [[0.0, 0.0], [33.3, 66.7], [66.7, 88.9], [100.0, 100.0]]
    assert curve["marks"] == [75.0, 95.0]
    assert 'data-chart="chart-curve"' in response.content.decode()


def test_contribution_for_the_group_reads_the_organisation_wide_rows(client, shop, manager):
    client.force_login(manager)

    result = _rows(client, "/reports/contribution/?group=abc")

    assert [(row.label, row.values[0], row.values[1], row.values[2]) for row in result.rows] == [
        ("A", Decimal("1300.00"), Decimal("89.7"), 2),
        ("B", Decimal("100.00"), Decimal("6.9"), 1),
        ("C", Decimal("50.00"), Decimal("3.4"), 1),
    ]


def test_composition_counts_new_and_returning_and_provinces(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    buying = _rows(client, "/reports/composition/?group=buying")
    regions = _rows(client, "/reports/composition/?group=region")

    assert [(row.label, row.values[0], row.values[1]) for row in buying.rows] == [
        ("Ordered again", 2, Decimal("66.7")),
        ("One order so far", 1, Decimal("33.3")),
    ]
    assert [(row.label, row.values[0]) for row in regions.rows] == [("广东", 2), ("上海", 1)]


def test_churn_at_risk_by_band_and_lost_by_month(client, shop, unit_a_head, manager):
    client.force_login(unit_a_head)

    risk = _rows(client, "/reports/churn/?group=risk")
    lost = _rows(client, "/reports/lost/")

    assert _table(risk) == [
        ("Elevated (65–80%)", 1, Decimal("50.0"), Decimal("100.00"), Decimal("66.7"), Decimal("80.00")),
        ("High (80% and above)", 1, Decimal("50.0"), Decimal("50.00"), Decimal("33.3"), Decimal("0.00")),
    ]
    assert [(row.label, row.values[0]) for row in lost.rows] == [("2025-03", 1)]

    client.force_login(manager)
    lost = _rows(client, "/reports/lost/?start=2025-01&end=2025-02")
    assert [(row.label, row.token, row.values[0], row.values[2]) for row in lost.rows] == [
        ("2025-02", "2025-02", 1, Decimal("1000.00"))
    ]


def test_sales_by_category_counts_paid_lines_in_the_period(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    result = _rows(client, f"/reports/products/?group=category&{PERIOD}")

    assert _table(result) == [
        ("home_textiles", Decimal("150.00"), Decimal("95.5"), 2, 2, 2),
        (ATTACK, Decimal("7.00"), Decimal("4.5"), 2, 1, 1),
    ]
    assert result.totals == (Decimal("157.00"), Decimal("100.0"), 4, 2, 2)


def test_drill_down_lists_only_the_unit_s_customers_behind_a_number(client, shop, unit_a_head, manager):
    client.force_login(unit_a_head)

    response = client.get("/reports/contribution/drill/?group=class&value=new")

    assert response.status_code == 200
    assert [row[0] for row in response.context["drilled"].table.rows] == [shop["li"].pk]

    client.force_login(manager)
    response = client.get("/reports/contribution/drill/?group=class&value=new")
    assert [row[0] for row in response.context["drilled"].table.rows] == [shop["li"].pk, shop["zhao"].pk]


def test_drill_down_into_a_month_and_into_orders(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    months = client.get(f"/reports/products/drill/?group=month&{PERIOD}&value=2025-02")
    category = client.get(f"/reports/products/drill/?group=category&{PERIOD}&value=home_textiles")

    assert [row[0] for row in months.context["drilled"].table.rows] == ["A-2"]
    assert [row[0] for row in category.context["drilled"].table.rows] == ["A-2", "A-1"]


def test_a_unit_head_never_sees_another_unit(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    assert client.get("/reports/contribution/?unit=beauty").status_code == 404
    assert (
        client.get("/reports/products/drill/?unit=beauty&group=category&value=home_textiles").status_code
        == 404
    )
    page = client.get(f"/reports/products/?group=channel&{PERIOD}")
    assert [row.label for row in page.context["result"].rows] == ["Tmall"]
    assert "98765" not in page.content.decode()


def test_permalink_carries_the_filters(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    response = client.get(f"/reports/products/?group=month&{PERIOD}&channel=tmall")

    assert 'href="?unit=home&amp;group=month&amp;start=2025-01&amp;end=2025-12&amp;channel=tmall"' in (
        response.content.decode()
    )
    assert [row.label for row in response.context["result"].rows] == ["2025-01", "2025-02"]


def test_export_is_formula_safe_and_audited(client, shop, unit_a_head, unit_a):
    client.force_login(unit_a_head)

    response = client.get(f"/reports/products/?group=category&{PERIOD}&format=csv")

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Category", "Revenue", "Revenue, share (%)", "Units sold", "Orders", "Customers"]
    assert rows[2] == ["'" + ATTACK, "7.00", "4.5", "2", "1", "1"]
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
    assert (entry.actor, entry.unit, entry.object_id) == (unit_a_head, unit_a, "report-products")

    drilled = client.get("/reports/contribution/drill/?group=class&value=loyal&format=xlsx")
    sheet = load_workbook(io.BytesIO(drilled.content)).active
    assert [cell.value for cell in sheet[2]][:3] == [shop["zhang"].pk, "张三", "广东"]


def test_export_needs_the_export_permission(client, shop, make_user, unit_a):
    analyst = make_user("ana", Role.ANALYST, [unit_a])
    client.force_login(analyst)

    assert client.get("/reports/contribution/").status_code == 200
    assert client.get("/reports/contribution/?format=csv").status_code == 403


def test_names_are_masked_without_the_pii_permission(client, shop, make_user, unit_a):
    analyst = make_user("ana", Role.ANALYST, [unit_a])
    client.force_login(analyst)

    response = client.get("/reports/contribution/drill/?group=class&value=loyal")

    assert response.context["drilled"].table.rows[0][1] != "张三"
    assert "张三" not in response.content.decode()


def test_a_role_without_the_read_model_is_refused(client, shop, make_user, unit_a):
    rep = make_user("rep", Role.SALES_REP, [unit_a])
    client.force_login(rep)

    assert client.get("/reports/").status_code == 403
    assert client.get("/reports/contribution/").status_code == 403
