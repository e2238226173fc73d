"""Cursor pagination (guanxi.api.pagination), exercised through GET /api/v1/orders and /customers."""

import pytest

from guanxi.accounts import actions
from guanxi.commerce.tests.factories import make_customer, make_order, make_store

PROBLEM = "application/problem+json"


@pytest.fixture
def secret(make_user, unit_a):
    return actions.create_api_token(user=make_user("ana", "analyst", [unit_a]), name="t").secret


@pytest.fixture
def orders(unit_a):
    store = make_store(unit_a, "home-tmall")
    # Three orders share a timestamp, so the id must break the tie.
    days = [(2025, 3, 1), (2025, 3, 5), (2025, 3, 5), (2025, 3, 5), (2025, 3, 9), (2025, 2, 1), (2025, 4, 1)]
    return [make_order(store, None, f"N{i}", "10.00", day) for i, day in enumerate(days)]


def walk(client, secret, path, limit):
    pages, cursor = [], None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = client.get(path, params, headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 200
        body = response.json()
        pages.append([item["number"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_pages_cover_every_order_once_newest_first(client, secret, orders):
    pages = walk(client, secret, "/api/v1/orders", limit=3)

    assert pages == [["N6", "N4", "N3"], ["N2", "N1", "N0"], ["N5"]]


def test_exact_multiple_of_limit_ends_without_cursor(client, secret, orders):
    pages = walk(client, secret, "/api/v1/orders", limit=7)

    assert pages == [["N6", "N4", "N3", "N2", "N1", "N0", "N5"]]


def test_rows_inserted_while_walking_do_not_shift_pages(client, secret, orders, unit_a):
    auth = {"Authorization": f"Bearer {secret}"}
    first = client.get("/api/v1/orders", {"limit": 3}, headers=auth).json()
    store = orders[0].store
    make_order(store, None, "NEW-TOP", "1.00", (2025, 5, 1))
    make_order(store, None, "NEW-TIE", "1.00", (2025, 3, 5))

    second = client.get("/api/v1/orders", {"limit": 3, "cursor": first["next_cursor"]}, headers=auth).json()

    assert [o["number"] for o in first["items"]] == ["N6", "N4", "N3"]
    # Both new rows sort before the cursor (N3), so the second page neither repeats nor skips a row.
    assert [o["number"] for o in second["items"]] == ["N2", "N1", "N0"]


def test_customers_are_paginated_by_id(client, secret, unit_a):
    ids = [make_customer(f"Customer {i}", [unit_a]).pk for i in range(5)]

    pages = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/v1/customers", params, headers={"Authorization": f"Bearer {secret}"}).json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]


def test_default_limit_is_50(client, secret, unit_a):
    store = make_store(unit_a, "bulk")
    for i in range(51):
        make_order(store, None, f"B{i}", "1.00", (2025, 1, 1 + i % 28))

    body = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {secret}"}).json()

    assert len(body["items"]) == 50
    assert body["next_cursor"] is not None


@pytest.mark.parametrize(("limit", "status"), [(100, 200), (101, 422), (0, 422)])
def test_page_size_is_capped(client, secret, limit, status):
    response = client.get("/api/v1/orders", {"limit": limit}, headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == status
    if status == 422:
        assert response["Content-Type"] == PROBLEM
        assert [e["loc"] for e in response.json()["errors"]] == [["query", "limit"]]


def _tamper(cursor: str) -> str:
    head, _, rest = cursor.partition(":")
    return ("X" if head[0] != "X" else "Y") + head[1:] + ":" + rest


@pytest.mark.parametrize("spoil", [_tamper, lambda c: "garbage", lambda c: c[:-2]])
def test_forged_cursor_is_rejected(client, secret, orders, spoil):
    auth = {"Authorization": f"Bearer {secret}"}
    cursor = client.get("/api/v1/orders", {"limit": 2}, headers=auth).json()["next_cursor"]

    response = client.get("/api/v1/orders", {"cursor": spoil(cursor)}, headers=auth)

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == "The cursor is invalid; start again without one."


def test_cursor_of_another_list_is_rejected(client, secret, unit_a):
    auth = {"Authorization": f"Bearer {secret}"}
    for i in range(3):
        make_customer(f"C{i}", [unit_a])
    customer_cursor = client.get("/api/v1/customers", {"limit": 1}, headers=auth).json()["next_cursor"]

    response = client.get("/api/v1/orders", {"cursor": customer_cursor}, headers=auth)

    assert response.status_code == 400
