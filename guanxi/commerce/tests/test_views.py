"""The orders list (filters, totals, scoping, paging) and the order page."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from guanxi.accounts.roles import Role
from guanxi.commerce.models import Channel, Order, Return
from guanxi.commerce.tests.factories import make_customer, make_order, make_store


@pytest.fixture
def orders(unit_a, unit_b):
    tmall = make_store(unit_a, "Home Tmall", Channel.TMALL)
    jd = make_store(unit_a, "Home JD", Channel.JD)
    beauty = make_store(unit_b, "Beauty SECRETSTORE", Channel.DOUYIN)
    zhang = make_customer("张伟", [unit_a], phone="+8613812345678")
    return {
        "t1": make_order(tmall, zhang, "T-1", "100.00", (2026, 3, 1)),
        "t2": make_order(tmall, None, "T-2", "50.00", (2026, 4, 1), status=Order.Status.CANCELLED),
        "j1": make_order(jd, zhang, "J-1", "30.00", (2026, 5, 1), device=Order.Device.PC),
        "b1": make_order(beauty, None, "SECRET-1", "999.00", (2026, 5, 2)),
        "tmall": tmall,
        "jd": jd,
    }


def numbers(response) -> list[str]:
    return [order.number for order, _name in response.context["orders"]]


def test_unit_a_sees_only_unit_a_orders_and_totals(client, unit_a_head, orders):
    client.force_login(unit_a_head)

    response = client.get("/orders/")

    assert numbers(response) == ["J-1", "T-2", "T-1"]
    assert response.context["totals"] == [
        {"currency": "CNY", "orders": 3, "revenue": Decimal("130.00"), "refunded": Decimal("0.00")}
    ]
    assert "SECRET" not in response.content.decode()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"store": "tmall"}, ["T-2", "T-1"]),
        ({"status": "cancelled"}, ["T-2"]),
        ({"device": "pc"}, ["J-1"]),
        ({"placed_from": "2026-04-01", "placed_to": "2026-04-30"}, ["T-2"]),
        ({"placed_to": "2026-03-01"}, ["T-1"]),
        ({"q": "J-1"}, ["J-1"]),
        ({"q": "SECRET-1"}, []),
        ({"customer": "zhang"}, ["J-1", "T-1"]),
    ],
)
def test_filters(client, unit_a_head, orders, params, expected):
    client.force_login(unit_a_head)
    if "store" in params:
        params = {**params, "store": orders[params["store"]].pk}
    if "customer" in params:
        params = {**params, "customer": orders["t1"].customer_id}

    assert numbers(client.get("/orders/", params)) == expected


def test_htmx_gets_only_the_table(client, unit_a_head, orders):
    client.force_login(unit_a_head)

    response = client.get(
        "/orders/", {"status": "completed"}, headers={"HX-Request": "true", "HX-Target": "order-table"}
    )

    assert response.content.decode().lstrip().startswith('<div id="order-table">')


def test_pages_follow_placed_at(client, manager, unit_a):
    store = make_store(unit_a, "Bulk")
    for index in range(55):
        make_order(store, None, f"N-{index:02d}", "1.00", (2026, 1, 1 + index % 28))
    client.force_login(manager)

    first = client.get("/orders/")
    second = client.get("/orders/", {"after": first.context["next_after"]})

    shown = numbers(first) + numbers(second)
    assert len(shown) == len(set(shown)) == 55
    assert second.context["next_after"] is None


def test_order_page_shows_lines_customer_and_returns(client, unit_a_head, unit_a, orders):
    order = orders["t1"]
    Return.objects.create(
        store=order.store,
        unit=unit_a,
        customer=order.customer,
        order=order,
        source=order.source,
        external_id="R-1",
        number="R-1",
        amount=Decimal("20.00"),
        quantity=1,
        returned_at=datetime(2026, 3, 9, tzinfo=UTC),
        reason="Too small",
    )
    client.force_login(unit_a_head)

    body = client.get(f"/orders/{order.pk}/").content.decode()

    assert "Towel" in body
    assert "R-1" in body and "Too small" in body
    assert f'href="/customers/{order.customer_id}/"' in body
    assert "张伟" in body


def test_order_page_masks_the_customer_without_pii(client, make_user, unit_a, orders):
    client.force_login(make_user("ana", Role.ANALYST, [unit_a]))

    body = client.get(f"/orders/{orders['t1'].pk}/").content.decode()

    assert "张*" in body
    assert "张伟" not in body


def test_unit_b_order_is_404_for_unit_a(client, unit_a_head, orders):
    client.force_login(unit_a_head)

    assert client.get(f"/orders/{orders['b1'].pk}/").status_code == 404
