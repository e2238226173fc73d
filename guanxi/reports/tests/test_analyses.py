"""The Analytics page's analyses as reports of the kit, over HTTP with exact figures: the order-based ones
on the hand-built shop of guanxi.analytics' tests, the metric-based ones on its metrics store rows; each
with its drill-down to the records behind a figure."""

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.analytics.models import CustomerMetric
from guanxi.analytics.tests.test_reports_metrics import build_metrics
from guanxi.analytics.tests.test_reports_orders import build_shop, build_three_years
from guanxi.commerce.models import Order
from guanxi.commerce.tests.factories import make_customer, make_order, make_store

D = Decimal
YEAR = "start=2024-06&end=2025-05"  # the twelve months up to the shop's last sale


def _result(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.context["result"], response.context["charts"]


def _table(result):
    return [(row.label, *row.values) for row in result.rows]


def _drill(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.context["drilled"]


def test_sales_by_channel_province_and_category(client, unit_a, unit_b, unit_a_head):
    build_shop(unit_a, unit_b)
    client.force_login(unit_a_head)

    channels, charts = _result(client, f"/reports/order-sales/?group=channel&{YEAR}")
    provinces, _charts = _result(client, f"/reports/order-sales/?group=province&{YEAR}")
    categories, _charts = _result(client, f"/reports/products/?group=category&{YEAR}")

    # Paid orders in CNY less refunds: the cancelled, refunded, dollar and July orders do not count.
    assert _table(channels) == [("Tmall", D("645.00"), D("68.3"), 8), ("JD", D("300.00"), D("31.7"), 3)]
    assert channels.totals == (D("945.00"), D("100.0"), 11)
    assert charts["report"] == {
        "kind": "bar",
        "labels": ["Tmall", "JD"],
        "values": [645.0, 300.0],
        "series_label": "Revenue",
    }
    assert _table(provinces) == [
        ("Unknown", D("335.00"), D("35.4"), 3),
        ("广东", D("310.00"), D("32.8"), 5),
        ("浙江", D("300.00"), D("31.7"), 3),
    ]
    assert _table(categories) == [
        ("home_textiles", D("945.00"), D("98.4"), 11, 11, 4),
        ("Unknown", D("15.00"), D("1.6"), 1, 1, 1),
    ]
    jd = _drill(client, f"/reports/order-sales/drill/?group=channel&{YEAR}&value=jd")
    assert jd.total == 3


def test_sales_cover_the_months_of_the_period(client, unit_a, unit_b, unit_a_head):
    build_shop(unit_a, unit_b)
    client.force_login(unit_a_head)

    channels, _charts = _result(client, "/reports/order-sales/?group=channel&start=2025-01&end=2025-05")

    # January to May 2025: the November order of c4 drops out.
    assert _table(channels)[0] == ("Tmall", D("345.00"), D("53.5"), 7)


def test_refunds_are_taken_off_the_revenue(client, unit_a, unit_a_head):
    order = make_order(
        make_store(unit_a, "home-tmall"), make_customer("r", [unit_a]), "R-1", "100.00", (2025, 3, 1)
    )
    Order.objects.filter(pk=order.pk).update(refunded_amount=D("40.00"))
    client.force_login(unit_a_head)

    channels, _charts = _result(client, "/reports/order-sales/?group=channel&start=2025-03&end=2025-03")

    assert _table(channels) == [("Tmall", D("60.00"), D("100.0"), 1)]


def test_returning_revenue_by_month(client, unit_a, unit_b, unit_a_head):
    build_shop(unit_a, unit_b)
    client.force_login(unit_a_head)

    result, charts = _result(client, "/reports/returning/?start=2023-06&end=2025-05")

    assert _table(result) == [
        ("2024-11", D("300.00"), D("0.00"), D("0.0")),
        ("2024-12", D("0.00"), D("0.00"), None),
        ("2025-01", D("320.00"), D("10.00"), D("3.0")),
        ("2025-02", D("60.00"), D("50.00"), D("45.5")),
        ("2025-03", D("25.00"), D("80.00"), D("76.2")),
        ("2025-04", D("0.00"), D("30.00"), D("100.0")),
        ("2025-05", D("0.00"), D("70.00"), D("100.0")),
    ]
    assert result.totals == (D("705.00"), D("240.00"), None)
    assert charts["report"]["kind"] == "stacked"
    assert [series["values"] for series in charts["report"]["series"]] == [
        [300.0, 0.0, 320.0, 60.0, 25.0, 0.0, 0.0],
        [0.0, 0.0, 10.0, 50.0, 80.0, 30.0, 70.0],
    ]
    # The orders behind March: c2's, the guest's (and not the dollar order).
    assert _drill(client, "/reports/returning/drill/?start=2023-06&end=2025-05&value=2025-03").total == 2


def test_device_shares_by_month(client, unit_a, unit_b, unit_a_head):
    build_shop(unit_a, unit_b)
    client.force_login(unit_a_head)

    result, charts = _result(client, "/reports/devices/?start=2023-06&end=2025-05")

    assert _table(result)[:4] == [
        ("2024-11", D("300.00"), D("0.00"), D("0.00"), D("100.0"), D("0.0"), D("0.0")),
        ("2024-12", D("0.00"), D("0.00"), D("0.00"), None, None, None),
        ("2025-01", D("120.00"), D("200.00"), D("10.00"), D("36.4"), D("60.6"), D("3.0")),
        ("2025-02", D("60.00"), D("50.00"), D("0.00"), D("54.5"), D("45.5"), D("0.0")),
    ]
    assert charts["report"]["percent"] is True
    assert charts["report"]["series"][0]["values"][:4] == [100.0, 0.0, 36.4, 54.5]


def test_cohort_matrix_is_a_heatmap_with_drill_down(client, unit_a, unit_b, unit_a_head):
    build_shop(unit_a, unit_b)
    client.force_login(unit_a_head)

    result, charts = _result(client, f"/reports/cohorts/?{YEAR}")

    none6, none8, none9 = (None,) * 6, (None,) * 8, (None,) * 9
    assert _table(result) == [
        ("2024-11", 1, D("0.0"), D("100.0"), D("0.0"), D("0.0"), D("0.0"), D("0.0"), *none6),
        ("2025-01", 2, D("50.0"), D("50.0"), D("50.0"), D("0.0"), *none8),
        ("2025-02", 1, D("0.0"), D("0.0"), D("100.0"), *none9),
    ]
    chart = charts["report"]
    assert (chart["kind"], chart["y_labels"], chart["x_labels"][:2]) == (
        "heatmap",
        ["2024-11", "2025-01", "2025-02"],
        ["Month +1 (%)", "Month +2 (%)"],
    )
    assert chart["values"][:3] == [[0, 0, 0.0], [1, 0, 100.0], [2, 0, 0.0]]
    assert [12, 1] not in [cell[:2] for cell in chart["values"]]  # months still to come have no cell
    # January's cohort: c1 (whose first unit A order was then, though they bought in unit B before) and c2.
    january = _drill(client, f"/reports/cohorts/drill/?{YEAR}&value=2025-01")
    assert [row[1] for row in january.table.rows] == ["c1", "c2"]


def test_pareto_classes_and_curve(client, unit_a, unit_a_head):
    store = make_store(unit_a, "home-tmall")
    for number, spend in enumerate(["400.00", "250.00", "150.00", "100.00", "50.00", "30.00", "20.00"]):
        make_order(store, make_customer(f"p{number}", [unit_a]), f"P-{number}", spend, (2025, 3, 1))
    make_order(store, None, "P-guest", "1000.00", (2025, 3, 2))  # guests have no place on the curve
    client.force_login(unit_a_head)

    result, charts = _result(client, "/reports/pareto/")

    assert _table(result) == [
        ("A", 3, D("42.9"), D("800.00"), D("80.0")),
        ("B", 2, D("28.6"), D("150.00"), D("15.0")),
        ("C", 2, D("28.6"), D("50.00"), D("5.0")),
    ]
    assert result.totals == (7, None, D("1000.00"), None)
    assert charts["curve"]["points"][:3] == [[0.0, 0.0], [14.3, 40.0], [28.6, 65.0]]
    assert charts["curve"]["marks"] == [75.0, 95.0]


def _pareto_queries(queries) -> int:
    """The ranking of customers by spend that the ABC classes and the Pareto curve read."""
    return sum('AS "spend"' in query["sql"] for query in queries)


def test_pareto_ranking_runs_once_per_page(client, unit_a, unit_a_head):
    store = make_store(unit_a, "home-tmall")
    for number, spend in enumerate(["400.00", "250.00", "150.00"]):
        make_order(store, make_customer(f"p{number}", [unit_a]), f"P-{number}", spend, (2025, 3, 1))
    client.force_login(unit_a_head)

    with CaptureQueriesContext(connection) as report_page:
        result, charts = _result(client, "/reports/pareto/")
    with CaptureQueriesContext(connection) as analytics_page:
        analytics = client.get("/analytics/")

    assert _pareto_queries(report_page.captured_queries) == 1
    assert _pareto_queries(analytics_page.captured_queries) == 1
    # The one ranking gives both the classes and the curve, on either page.
    assert _table(result) == [
        ("A", 2, D("66.7"), D("650.00"), D("81.3")),
        ("B", 1, D("33.3"), D("150.00"), D("18.8")),
        ("C", 0, D("0.00"), D("0.00"), D("0.00")),
    ]
    assert charts["curve"]["points"] == [[0.0, 0.0], [33.3, 50.0], [66.7, 81.3], [100.0, 100.0]]
    assert analytics.context["charts"]["pareto"]["points"] == charts["curve"]["points"]


def test_seasonal_index_with_drill_down_to_the_years_used(client, unit_a, unit_a_head):
    build_three_years(unit_a)
    client.force_login(unit_a_head)

    result, charts = _result(client, "/reports/seasonal/")

    # Total 4,500 over 36 months: ordinary months average 100 (80%), June 200 (160%), December 300 (240%).
    ordinary = (D("80.0"), D("100.00"), D("6.7"))
    assert _table(result)[:6] == [
        (name, *ordinary) for name in ("January", "February", "March", "April", "May")
    ] + [("June", D("160.0"), D("200.00"), D("13.3"))]
    assert _table(result)[11] == ("December", D("240.0"), D("300.00"), D("20.0"))
    assert charts["report"]["values"][:6] == [80.0, 80.0, 80.0, 80.0, 80.0, 160.0]
    # December's orders of 2022–2024, not the partial first year's December 2021.
    assert _drill(client, "/reports/seasonal/drill/?value=12").total == 3


def test_rfm_grid_is_a_heatmap_with_drill_down(client, unit_a, unit_a_head):
    build_metrics(unit_a)
    client.force_login(unit_a_head)

    result, charts = _result(client, "/reports/rfm/")

    assert _table(result) == [
        ("1", 1, 0, 0, 0, 1, 0),
        ("2", 0, 0, 0, 0, 0, 0),
        ("3", 1, 1, 0, 0, 0, 0),
        ("4", 0, 0, 0, 0, 0, 0),
        ("5", 2, 0, 0, 0, 0, 2),
    ]
    chart = charts["report"]
    assert (chart["kind"], len(chart["values"]), chart["x_labels"][0]) == ("heatmap", 25, "F score 1")
    assert [4, 4, 2.0] in chart["values"] and [3, 0, 1.0] in chart["values"]
    assert [row[1] for row in _drill(client, "/reports/rfm/drill/?value=5").table.rows] == ["m1", "m2"]


def test_clv_histogram_with_drill_down_to_a_band(client, unit_a, unit_a_head):
    for k in range(1, 21):
        customer = make_customer(f"v{k}", [unit_a])
        CustomerMetric.objects.create(customer=customer, unit=unit_a, predicted_clv=D(10 * k))
    client.force_login(unit_a_head)

    result, charts = _result(client, "/reports/clv/")

    # 20 values 10…200; the 95th percentile is 190, so ten bins of 20 with the last one open.
    assert _table(result) == [
        ("0–20", 1),
        *[(f"{20 * k}–{20 * k + 20}", 2) for k in range(1, 9)],
        ("≥ 180", 3),
    ]
    assert charts["report"]["kind"] == "histogram"
    last = result.rows[-1].token
    assert [row[1] for row in _drill(client, f"/reports/clv/drill/?value={last}").table.rows] == [
        "v18",
        "v19",
        "v20",
    ]


def test_abc_within_each_customer_class(client, unit_a, unit_a_head):
    for name, spend in (("l1", "700.00"), ("l2", "200.00"), ("l3", "100.00")):
        customer = make_customer(name, [unit_a])
        CustomerMetric.objects.create(
            customer=customer, unit=unit_a, customer_class="loyal", total_spend=D(spend), orders=3
        )
    client.force_login(unit_a_head)

    result, charts = _result(client, "/reports/abc-by-class/")

    # 700 is A (nothing before it); 200 has 70% before it (A); 100 has 90% before it (B).
    assert _table(result) == [
        ("Loyal customer", 3, D("1000.00"), D("66.7"), D("33.3"), D("0.0"), D("90.0"), D("10.0"), D("0.0"))
    ]
    assert [series["values"] for series in charts["report"]["series"]] == [[66.7], [33.3], [0.0]]
    assert len(_drill(client, "/reports/abc-by-class/drill/?value=loyal").table.rows) == 3
