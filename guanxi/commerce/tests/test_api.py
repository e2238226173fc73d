"""GET /api/v1/orders and /api/v1/orders/{id}: scoping, filters, amounts as strings."""

import pytest

from guanxi.commerce.models import Order
from guanxi.commerce.tests.factories import make_customer, make_order, make_store


@pytest.fixture
def orders(unit_a, unit_b):
    tmall = make_store(unit_a, "home-tmall")
    jd = make_store(unit_a, "home-jd", channel="jd")
    beauty = make_store(unit_b, "beauty-tmall")
    customer = make_customer("张三", [unit_a, unit_b])
    return {
        "a1": make_order(tmall, customer, "A1", "199.00", (2025, 3, 1)),
        "a2": make_order(jd, None, "A2", "35.50", (2025, 3, 10), status=Order.Status.REFUNDED),
        "a3": make_order(tmall, customer, "A3", "1200.00", (2025, 4, 2), status=Order.Status.PAID),
        "b1": make_order(beauty, customer, "B1", "88.80", (2025, 3, 5)),
    }


def numbers(response) -> list[str]:
    assert response.status_code == 200
    return [item["number"] for item in response.json()["items"]]


def test_unit_a_sees_zero_unit_b_orders(client, unit_a_head, orders, bearer):
    assert numbers(client.get("/api/v1/orders", headers=bearer(unit_a_head))) == ["A3", "A2", "A1"]


def test_unit_b_order_is_404_for_unit_a(client, unit_a_head, orders, bearer):
    response = client.get(f"/api/v1/orders/{orders['b1'].pk}", headers=bearer(unit_a_head))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_group_manager_sees_all_units(client, manager, orders, bearer):
    assert numbers(client.get("/api/v1/orders", headers=bearer(manager))) == ["A3", "A2", "B1", "A1"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "refunded"}, ["A2"]),
        ({"placed_after": "2025-03-10T12:00:00+08:00"}, ["A3", "A2"]),
        ({"placed_before": "2025-03-10T12:00:00+08:00"}, ["A1"]),
        ({"placed_after": "2025-03-02", "placed_before": "2025-04-01"}, ["A2"]),
    ],
)
def test_filters(client, unit_a_head, orders, query, expected, bearer):
    assert numbers(client.get("/api/v1/orders", query, headers=bearer(unit_a_head))) == expected


def test_store_filter(client, unit_a_head, orders, bearer):
    store_id = orders["a2"].store_id

    assert numbers(client.get("/api/v1/orders", {"store": store_id}, headers=bearer(unit_a_head))) == ["A2"]


def test_filtering_by_another_units_store_finds_nothing(client, unit_a_head, orders, bearer):
    store_id = orders["b1"].store_id

    assert numbers(client.get("/api/v1/orders", {"store": store_id}, headers=bearer(unit_a_head))) == []


def test_detail_has_lines_and_decimal_strings(client, unit_a_head, orders, unit_a, bearer):
    order = orders["a3"]

    body = client.get(f"/api/v1/orders/{order.pk}", headers=bearer(unit_a_head)).json()

    assert body == {
        "id": order.pk,
        "number": "A3",
        "unit_id": unit_a.pk,
        "store": {"id": order.store_id, "name": "home-tmall", "channel": "tmall"},
        "customer_id": order.customer_id,
        "status": "paid",
        "device": "mobile",
        "currency": "CNY",
        "total_amount": "1200.00",
        "refunded_amount": "0.00",
        "item_count": 1,
        "placed_at": "2025-04-02T04:00:00Z",
        "paid_at": "2025-04-02T04:00:00Z",
        "lines": [
            {
                "sku": "SKU-1",
                "name": "Towel",
                "category": "home_textiles",
                "quantity": 1,
                "unit_price": "1200.00",
                "amount": "1200.00",
            }
        ],
    }
