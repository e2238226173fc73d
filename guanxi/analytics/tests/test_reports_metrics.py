"""Store-level views of the metrics store: RFM grid, CLV histogram, ABC within customer classes."""

import random
from decimal import Decimal

import pytest

from guanxi.analytics.models import CustomerMetric
from guanxi.analytics.reports import metrics as reports
from guanxi.analytics.reports import orders as order_reports
from guanxi.commerce.tests.factories import make_customer

D = Decimal


def _metric(unit, name, **fields):
    customer = make_customer(name, [unit] if unit else [])
    return CustomerMetric.objects.create(customer=customer, unit=unit, **fields)


@pytest.fixture
def metrics(unit_a):
    return build_metrics(unit_a)


def build_metrics(unit_a):
    _metric(
        unit_a, "m1", r_score=5, f_score=5, total_spend=D("900.00"), abc_class="A", lifecycle_stage="stable"
    )
    _metric(
        unit_a, "m2", r_score=5, f_score=5, total_spend=D("600.00"), abc_class="A", lifecycle_stage="stable"
    )
    _metric(
        unit_a, "m3", r_score=1, f_score=4, total_spend=D("300.00"), abc_class="B", lifecycle_stage="decline"
    )
    _metric(
        unit_a,
        "m4",
        r_score=3,
        f_score=1,
        total_spend=D("10.00"),
        abc_class="C",
        lifecycle_stage="exploration",
    )
    _metric(unit_a, "m5", total_spend=D("0.00"))  # not scored yet
    return CustomerMetric.objects.filter(unit=unit_a)


def test_rfm_grid(metrics):
    grid = reports.rfm_grid(metrics)

    assert len(grid) == 25
    filled = {(c.r_score, c.f_score): (c.customers, c.mean_spend) for c in grid if c.customers}
    assert filled == {(5, 5): (2, D("750.00")), (1, 4): (1, D("300.00")), (3, 1): (1, D("10.00"))}
    assert grid[0] == reports.RfmCell(1, 1, 0, None)


def test_clv_histogram_closes_at_the_95th_percentile(unit_a):
    for k in range(1, 21):
        _metric(unit_a, f"v{k}", predicted_clv=D(10 * k))
    _metric(unit_a, "none", predicted_clv=None)

    bins, customers = reports.clv_histogram(CustomerMetric.objects.filter(unit=unit_a))

    # 20 values 10…200; the 95th percentile is 190, so ten bins of 20 with the last one open.
    assert customers == 20
    assert [(b.low, b.high, b.customers) for b in bins] == [
        (D(0), D(20), 1),
        *[(D(20 * k), D(20 * k + 20), 2) for k in range(1, 9)],
        (D(180), None, 3),
    ]


def test_abc_ranks_customers_within_each_customer_class(unit_a, unit_b):
    # Loyal: 700 + 200 + 100 = 1,000. 700 comes first (0% before it: A); 200 has 70% before it (< 75%:
    # A); 100 has 90% before it (< 95%: B). New: 60 + 30 + 10 = 100: 60 is A (0% before), 30 is A
    # (60% before), 10 is B (90% before). Ranked across all six, 60 would be B and 30 and 10 C.
    for name, spend, customer_class in [
        ("l1", "700.00", "loyal"),
        ("l2", "200.00", "loyal"),
        ("l3", "100.00", "loyal"),
        ("n1", "60.00", "new"),
        ("n2", "30.00", "new"),
        ("n3", "10.00", "new"),
        ("n4", "0.00", "new"),  # has not bought: not ranked
        ("p1", "0.00", "potential"),
    ]:
        _metric(unit_a, name, total_spend=D(spend), customer_class=customer_class)
    _metric(unit_b, "other unit", total_spend=D("5000.00"), customer_class="loyal")

    rows = reports.abc_within_classes(CustomerMetric.objects.filter(unit=unit_a), D("75"), D("95"))

    assert [(row.customer_class, row.label, row.customers, row.revenue) for row in rows] == [
        ("loyal", "Loyal customer", 3, D("1000.00")),
        ("new", "New customer", 3, D("100.00")),
    ]
    assert [
        (a.abc_class, a.customers, a.revenue, a.customer_share, a.revenue_share) for a in rows[0].abc
    ] == [
        ("A", 2, D("900.00"), D("66.7"), D("90.0")),
        ("B", 1, D("100.00"), D("33.3"), D("10.0")),
        ("C", 0, D("0.00"), D("0.0"), D("0.0")),
    ]
    assert [(a.abc_class, a.customers, a.revenue) for a in rows[1].abc] == [
        ("A", 2, D("90.00")),
        ("B", 1, D("10.00")),
        ("C", 0, D("0.00")),
    ]


def test_abc_within_classes_in_the_database_agrees_with_ranking_in_python(unit_a):
    """The window-function ranking gives what ranking each class's spends largest first in Python does
    (orders.abc_figures), ties and cut-off boundaries included."""
    rng = random.Random(11)
    spends: dict[str, list[D]] = {"loyal": [], "old": [], "regular": []}
    for number in range(240):
        customer_class = ("loyal", "old", "regular")[number % 3]
        # Whole yuan and a few repeats, so ties and exact 75% / 95% boundaries occur.
        spend = D(rng.choice([10, 20, 25, 50, 75, 100, 250, rng.randint(1, 900)])).quantize(D("0.01"))
        spends[customer_class].append(spend)
        _metric(unit_a, f"c{number}", total_spend=spend, customer_class=customer_class)

    rows = reports.abc_within_classes(CustomerMetric.objects.filter(unit=unit_a), D("75"), D("95"))

    for row in rows:
        expected = order_reports.abc_figures(
            sorted(spends[row.customer_class], reverse=True), D("75"), D("95")
        )
        assert row.abc == expected, row.customer_class
        assert (row.customers, row.revenue) == (
            len(spends[row.customer_class]),
            sum(spends[row.customer_class], D("0.00")),
        )
    assert [row.customer_class for row in rows] == ["loyal", "old", "regular"]
