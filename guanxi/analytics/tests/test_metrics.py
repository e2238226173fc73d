"""The metrics store on a hand-built shop: exact RFM, ABC, lifecycle and class values, unit vs org scope."""

from datetime import datetime
from decimal import Decimal

import pytest

from guanxi.analytics.models import CustomerMetric, ModelRun
from guanxi.analytics.refresh import refresh_metrics
from guanxi.commerce.models import Order
from guanxi.commerce.tests.factories import SHANGHAI, make_customer, make_order, make_store

AS_OF = datetime(2026, 7, 1, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture
def shop(unit_a, unit_b):
    home = make_store(unit_a, "Home")
    beauty = make_store(unit_b, "Beauty")
    c1 = make_customer("c1", [unit_a])
    c2 = make_customer("c2", [unit_a, unit_b])
    c3 = make_customer("c3", [unit_a])
    c4 = make_customer("c4", [unit_a])
    c5 = make_customer("c5", [unit_a])
    make_order(home, c1, "1-1", "100.00", (2026, 3, 1))
    make_order(home, c1, "1-2", "200.00", (2026, 5, 1))
    make_order(home, c1, "1-3", "300.00", (2026, 6, 20))
    make_order(home, c2, "2-1", "1000.00", (2026, 6, 1))
    make_order(beauty, c2, "2-2", "500.00", (2026, 6, 25))
    make_order(home, c3, "3-1", "50.00", (2025, 1, 10))
    make_order(home, c4, "4-1", "80.00", (2026, 6, 28))
    make_order(home, c5, "5-1", "70.00", (2026, 6, 28), status=Order.Status.CANCELLED)
    return {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "home": home, "beauty": beauty}


def _row(customer, unit=None):
    return CustomerMetric.objects.get(customer=customer, unit=unit)


def test_org_wide_rfm_abc_lifecycle_and_classes(shop):
    run = refresh_metrics(full=True, as_of=AS_OF)
    assert run.state == ModelRun.State.SUCCEEDED
    assert run.unit is None
    expected = {
        # name: (orders, spend, recency, R, F, M, segment, ABC, stage, class)
        "c1": (3, "600.00", 11, 2, 5, 4, "cant_lose", "A", "development", "regular"),
        "c2": (2, "1500.00", 6, 4, 4, 5, "loyal", "A", "development", "regular"),
        "c3": (1, "50.00", 537, 1, 1, 1, "lost", "C", "lost", "old"),
        "c4": (1, "80.00", 3, 5, 1, 2, "new", "B", "exploration", "new"),
    }
    for name, values in expected.items():
        row = _row(shop[name])
        assert (
            row.orders,
            row.total_spend,
            row.recency_days,
            row.r_score,
            row.f_score,
            row.m_score,
            row.rfm_segment,
            row.abc_class,
            row.lifecycle_stage,
            row.customer_class,
        ) == (values[0], Decimal(values[1]), *values[2:]), name
    c1 = _row(shop["c1"])
    assert c1.items == 3
    assert c1.average_order_value == Decimal("200.00")
    assert c1.average_days_between_orders == 55.5
    assert c1.first_order_at == datetime(2026, 3, 1, 12, tzinfo=SHANGHAI)
    assert c1.last_order_at == datetime(2026, 6, 20, 12, tzinfo=SHANGHAI)
    assert c1.computed_at == AS_OF
    potential = _row(shop["c5"])
    assert (potential.orders, potential.customer_class, potential.rfm_segment, potential.r_score) == (
        0,
        "potential",
        "",
        None,
    )


def test_unit_scope_counts_only_that_units_orders(shop, unit_a, unit_b):
    refresh_metrics(full=True, as_of=AS_OF)
    org, in_a, in_b = _row(shop["c2"]), _row(shop["c2"], unit_a), _row(shop["c2"], unit_b)
    assert (org.orders, org.total_spend, org.recency_days) == (2, Decimal("1500.00"), 6)
    assert (in_a.orders, in_a.total_spend, in_a.recency_days, in_a.lifecycle_stage) == (
        1,
        Decimal("1000.00"),
        30,
        "exploration",
    )
    assert (in_b.orders, in_b.total_spend, in_b.recency_days) == (1, Decimal("500.00"), 6)
    # c1 never bought in unit B and is not linked to it: no row there.
    assert not CustomerMetric.objects.filter(customer=shop["c1"], unit=unit_b).exists()
    assert ModelRun.objects.filter(state=ModelRun.State.SUCCEEDED).count() == 3


def test_refresh_of_one_unit_leaves_other_scopes_alone(shop, unit_a):
    run = refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)
    assert run.unit == unit_a
    assert set(CustomerMetric.objects.values_list("unit_id", flat=True)) == {unit_a.pk}


def test_degenerate_shop_is_labelled_empirical(unit_a):
    store = make_store(unit_a, "Tiny")
    only = make_customer("only", [unit_a])
    make_order(store, only, "T-1", "99.00", (2026, 6, 1))
    run = refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)
    assert run.method == "empirical"
    assert "too_few_customers" in run.fallback_reason
    row = _row(only, unit_a)
    assert (row.method, row.churn_method, row.probability_alive) == ("empirical", "recency", None)
    assert row.expected_purchases_365 == 0.0
    assert row.expected_spend_per_order == Decimal("0.00")


def test_orders_all_on_one_day_are_not_overdue_by_their_zero_interval(unit_a):
    """Two orders on one day give an average interval of 0 days; that is no rhythm to be late for."""
    home = make_store(unit_a, "Home")
    same_day = make_customer("same day", [unit_a])
    make_order(home, same_day, "S-1", "100.00", (2026, 6, 20))
    make_order(home, same_day, "S-2", "40.00", (2026, 6, 20))
    refresh_metrics(full=True, as_of=AS_OF)
    assert _row(same_day).lifecycle_stage == "exploration"
