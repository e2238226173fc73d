"""The Analytics page over HTTP: rendering through the report kit, unit scoping, permissions, targets, and
the exports of the reports behind its cards."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from guanxi.accounts.roles import Role
from guanxi.analytics.models import CustomerMetric, ModelRun
from guanxi.commerce.models import Channel, OrderLine
from guanxi.commerce.tests.factories import make_customer, make_order, make_store
from guanxi.core.models import AuditEntry

ATTACK = "=cmd|' /C calc'!A0"
URL = "/analytics/"


@pytest.fixture
def shop(unit_a, unit_b):
    tmall = make_store(unit_a, "home-tmall", Channel.TMALL)
    beauty = make_store(unit_b, "beauty-douyin", Channel.DOUYIN)
    zhang = make_customer("张三", [unit_a], province="广东")
    li = make_customer("李四", [unit_b], province="上海")
    make_order(tmall, zhang, "A-1", "100.00", (2025, 1, 10))
    order = make_order(tmall, zhang, "A-2", "50.00", (2025, 2, 5))
    OrderLine.objects.create(
        order=order,
        sku="X",
        name="Odd",
        category=ATTACK,
        quantity=1,
        unit_price=Decimal("7.00"),
        amount=Decimal("7.00"),
    )
    make_order(beauty, li, "B-1", "98765.00", (2025, 2, 6))


def _chart(response, name):
    page = response.content.decode()
    start = page.index(f'<script id="chart-{name}" type="application/json">') + len(
        f'<script id="chart-{name}" type="application/json">'
    )
    return json.loads(page[start : page.index("</script>", start)])


def test_page_renders_for_a_manager_without_metrics(client, shop, manager):
    client.force_login(manager)

    response = client.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "guanxi analyze" in page
    assert 'data-metrics="missing"' in page
    assert _chart(response, "channels")["labels"] == ["Douyin", "Tmall"]
    assert _chart(response, "channels")["values"] == [98765.0, 150.0]
    assert _chart(response, "returning")["labels"] == ["2025-01", "2025-02"]
    # Each card links to its report (the permalink of the card's unit, group and period) and its exports.
    assert 'href="/reports/cohorts/?group=cohort&amp;start=2024-03&amp;end=2025-02&amp;format=csv"' in page
    assert 'href="/reports/order-sales/?group=channel&amp;start=2024-03&amp;end=2025-02"' in page
    assert "chart-rfm" not in page


def test_page_renders_metrics_when_computed(client, shop, manager, unit_a):
    customer = make_customer("王五", [unit_a])
    CustomerMetric.objects.create(
        customer=customer,
        unit=None,
        orders=2,
        r_score=4,
        f_score=2,
        total_spend=Decimal("150.00"),
        predicted_clv=Decimal("88.00"),
        abc_class="A",
        lifecycle_stage="development",
        customer_class="regular",
    )
    ModelRun.objects.create(
        unit=None,
        state=ModelRun.State.SUCCEEDED,
        backtest_mae=0.42,
        churn_auc=0.81,
        finished_at=timezone.now(),
    )
    client.force_login(manager)

    response = client.get(URL)

    page = response.content.decode()
    assert 'data-metrics="missing"' not in page
    assert [1, 3, 1] in _chart(response, "rfm")["values"]
    assert _chart(response, "abc")["values"] == [1, 0, 0]
    assert _chart(response, "lifecycle")["values"] == [0, 1, 0, 0, 0]
    assert _chart(response, "abc_by_class")["labels"] == ["Regular customer"]
    assert [s["values"] for s in _chart(response, "abc_by_class")["series"]] == [[100.0], [0.0], [0.0]]
    assert '<tr data-token="regular"><td>Regular customer</td>' in page
    assert "0.42" in page and "0.81" in page


def test_unit_metrics_are_not_shown_for_all_units(client, shop, manager, unit_a):
    CustomerMetric.objects.create(customer=make_customer("王五", [unit_a]), unit=unit_a, r_score=1, f_score=1)
    client.force_login(manager)

    assert 'data-metrics="missing"' in client.get(URL).content.decode()
    assert 'data-metrics="missing"' not in client.get(URL, {"unit": "home"}).content.decode()


def test_unit_head_sees_only_their_unit(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    response = client.get(URL)

    page = response.content.decode()
    assert response.status_code == 200
    assert "98765" not in page and "98,765" not in page and "Douyin" not in page
    assert _chart(response, "channels") == {
        "kind": "bar",
        "labels": ["Tmall"],
        "values": [150.0],
        "series_label": "Revenue",
    }
    assert _chart(response, "provinces")["labels"] == ["广东"]


def test_other_units_cannot_be_picked(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    assert client.get(URL, {"unit": "beauty"}).status_code == 404


def test_manager_can_pick_a_unit(client, shop, manager):
    client.force_login(manager)

    response = client.get(URL, {"unit": "beauty"})

    assert _chart(response, "channels")["labels"] == ["Douyin"]
    assert '<option value="beauty" selected>' in response.content.decode()


def test_page_without_permission_is_refused_and_audited(client, shop, make_user, unit_a):
    agent = make_user("agent", Role.SERVICE_AGENT, [unit_a])
    client.force_login(agent)

    response = client.get(URL)

    assert response.status_code == 403
    entry = AuditEntry.objects.get(action=AuditEntry.Action.PERMISSION_DENIED)
    assert (entry.actor, entry.object_id, entry.unit, entry.details) == (
        agent,
        "analytics.view",
        unit_a,
        "Refused: GET /analytics/",
    )


def test_empty_shop(client, manager):
    client.force_login(manager)

    page = client.get(URL).content.decode()

    assert "No data yet" in page
    assert "guanxi analyze" in page


def test_monthly_targets_table(client, unit_a, unit_a_head):
    store = make_store(unit_a, "home-tmall")
    for month in range(1, 13):
        make_order(store, None, f"S-{month}", "300.00" if month == 12 else "100.00", (2023, month, 15))
    make_order(store, None, "S-next", "100.00", (2024, 1, 15))
    client.force_login(unit_a_head)

    page = client.get(URL, {"target": "140000"}).content.decode()

    # 1,400 over the year: December's index is 12 × 300 / 1,400 = 2.5714, its target 30,000.
    assert '<td class="num" data-target-month="12">¥30,000.00</td>' in page
    assert '<td class="num" data-target-month="1">¥10,000.00</td>' in page
    assert "257.1%" in page


def test_invalid_target_is_ignored(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    response = client.get(URL, {"target": "-5"})

    assert response.status_code == 200
    assert "data-target-month" not in response.content.decode()


PERIOD = "start=2024-03&end=2025-02"  # the cards' twelve months up to the last sale


def _csv(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_export_is_formula_safe_and_audited(client, shop, unit_a_head, unit_a):
    client.force_login(unit_a_head)

    response = client.get(f"/reports/products/?group=category&{PERIOD}&format=csv")

    assert response.status_code == 200
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        ["Category", "Revenue", "Revenue, share (%)", "Units sold", "Orders", "Customers"],
        ["home_textiles", "150.00", "95.5", "2", "2", "1"],
        ["'" + ATTACK, "7.00", "4.5", "1", "1", "1"],
    ]
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
    assert (entry.actor, entry.unit, entry.object_id, entry.details) == (
        unit_a_head,
        unit_a,
        "report-products",
        "CSV file of 2 rows",
    )


def test_xlsx_export_writes_formulas_as_text(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    response = client.get(f"/reports/products/?group=category&{PERIOD}&format=xlsx")

    sheet = load_workbook(io.BytesIO(response.content)).active
    assert (sheet["A3"].value, sheet["A3"].data_type) == (ATTACK, "s")
    assert (sheet["B2"].value, sheet["E2"].value) == (150, 2)


def test_export_without_export_permission(client, shop, make_user, unit_a):
    analyst = make_user("analyst", Role.ANALYST, [unit_a])
    client.force_login(analyst)

    response = client.get("/reports/cohorts/?format=csv")

    assert response.status_code == 403
    entry = AuditEntry.objects.get(action=AuditEntry.Action.PERMISSION_DENIED)
    assert (entry.actor, entry.object_id, entry.unit) == (analyst, "data.export", unit_a)
    assert "format=csv" not in client.get(URL).content.decode()  # no download links either


@pytest.mark.parametrize(
    "slug",
    ["cohorts", "returning", "devices", "pareto", "order-sales", "seasonal", "rfm", "clv", "abc-by-class"],
)
def test_every_analysis_exports(client, shop, manager, slug):
    client.force_login(manager)

    response = client.get(f"/reports/{slug}/", {"format": "xlsx"})

    assert response.status_code == 200
    assert load_workbook(io.BytesIO(response.content)).active.title == f"report-{slug}"


def test_unknown_format_is_a_bad_request(client, shop, manager):
    client.force_login(manager)

    assert client.get("/reports/cohorts/", {"format": "pdf"}).status_code == 400
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_unit_export_contains_no_other_unit(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    rows = _csv(client, "/reports/returning/?format=csv")

    assert rows == [
        ["Month", "New customers", "Returning customers", "Returning share (%)"],
        ["2025-01", "100.00", "0.00", "0.00"],
        ["2025-02", "0.00", "50.00", "100.00"],
    ]


def test_cohort_export(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    rows = _csv(client, f"/reports/cohorts/?{PERIOD}&format=csv")

    assert rows[0][:4] == ["First order month", "Customers", "Month +1 (%)", "Month +2 (%)"]
    assert rows[1:] == [["2025-01", "1", "100.00", *[""] * 11]]  # February brought no new customer


def test_channel_and_province_sales_of_a_unit(client, shop, unit_a_head):
    client.force_login(unit_a_head)

    assert _csv(client, f"/reports/order-sales/?group=province&{PERIOD}&format=csv") == [
        ["Province", "Revenue", "Revenue, share (%)", "Orders"],
        ["广东", "150.00", "100.0", "2"],
    ]


def test_fallback_reasons_are_shown_in_words(client, shop, manager):
    CustomerMetric.objects.create(customer=make_customer("王五", []), unit=None, total_spend=Decimal("1.00"))
    ModelRun.objects.create(
        unit=None,
        state=ModelRun.State.SUCCEEDED,
        fallback_reason="degenerate_estimate, no_spend",
        finished_at=timezone.now(),
    )
    client.force_login(manager)

    page = client.get(URL).content.decode()

    assert "degenerate_estimate" not in page
    assert (
        "The data do not pin the model&#x27;s parameters down; No repeat customer has a positive spend"
        in page
    )
