"""The metrics API: scoped rows with explanations, 404 across units, the model-quality report."""

from datetime import datetime

import pytest

from guanxi.accounts.roles import Role
from guanxi.analytics.refresh import refresh_metrics
from guanxi.commerce.tests.factories import SHANGHAI, make_customer, make_order, make_store

AS_OF = datetime(2026, 7, 1, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture
def shop(unit_a, unit_b):
    home, beauty = make_store(unit_a, "Home"), make_store(unit_b, "Beauty")
    shared = make_customer("shared", [unit_a, unit_b])
    only_b = make_customer("only b", [unit_b])
    make_order(home, shared, "A-1", "100.00", (2026, 6, 1))
    make_order(beauty, shared, "B-1", "300.00", (2026, 6, 21))
    make_order(beauty, only_b, "B-2", "50.00", (2026, 5, 1))
    refresh_metrics(full=True, as_of=AS_OF)
    return {"shared": shared, "only_b": only_b}


def test_unit_user_sees_only_their_units_figures(client, shop, make_user, unit_a):
    client.force_login(make_user("analyst_a", Role.ANALYST, [unit_a]))
    body = client.get(f"/api/v1/customers/{shop['shared'].pk}/metrics").json()
    assert [scope["unit_id"] for scope in body["scopes"]] == [unit_a.pk]
    scope = body["scopes"][0]
    assert (scope["orders"], scope["total_spend"], scope["recency_days"]) == (1, "100.00", 30)
    assert scope["explanations"]["rfm"].startswith("Last order 30 days ago (R ")
    assert scope["explanations"]["method"].startswith("Estimated from simple averages")


def test_other_units_customer_is_not_found(client, shop, make_user, unit_a):
    client.force_login(make_user("analyst_a", Role.ANALYST, [unit_a]))
    assert client.get(f"/api/v1/customers/{shop['only_b'].pk}/metrics").status_code == 404


def test_all_unit_role_sees_org_wide_row(client, shop, manager, unit_a, unit_b):
    client.force_login(manager)
    body = client.get(f"/api/v1/customers/{shop['shared'].pk}/metrics").json()
    by_unit = {scope["unit_id"]: scope for scope in body["scopes"]}
    assert set(by_unit) == {None, unit_a.pk, unit_b.pk}
    assert (by_unit[None]["orders"], by_unit[None]["total_spend"], by_unit[None]["recency_days"]) == (
        2,
        "400.00",
        10,
    )


def test_model_quality_report_is_scoped(client, shop, make_user, manager, unit_a):
    client.force_login(make_user("analyst_a", Role.ANALYST, [unit_a]))
    assert client.get("/api/v1/analytics/model-quality").status_code == 404
    report = client.get(f"/api/v1/analytics/model-quality?unit={unit_a.pk}").json()
    assert (report["unit_id"], report["method"], report["counts"]["buyers"]) == (unit_a.pk, "empirical", 1)
    client.force_login(manager)
    org = client.get("/api/v1/analytics/model-quality").json()
    assert (org["unit_id"], org["counts"]["buyers"], org["counts"]["orders"]) == (None, 2, 3)
    assert (org["churn_method"], org["supervised_churn_auc"]) == ("recency", None)  # too little history
