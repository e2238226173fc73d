"""POST /api/v1/orders and /api/v1/events: batches, per-item results, idempotency and unit scoping."""

import json
from decimal import Decimal

import pytest

from guanxi.accounts.models import ApiToken
from guanxi.accounts.roles import Role
from guanxi.commerce.models import Channel, Event, IdempotencyRecord, Order, Store
from guanxi.customers.models import Customer, Identity, IdentityHint


@pytest.fixture
def stores(unit_a, unit_b):
    return (
        Store.objects.create(unit=unit_a, name="Home", channel=Channel.OWN_SITE, source="site:home"),
        Store.objects.create(unit=unit_b, name="Beauty", channel=Channel.OWN_SITE, source="site:beauty"),
    )


@pytest.fixture
def head_a_token(unit_a_head, bearer):
    return bearer(unit_a_head, scope="read_write")


def order(external_id: str, **fields) -> dict:
    return {
        "store": "site:home",
        "external_id": external_id,
        "status": "paid",
        "placed_at": "2024-05-01T10:00:00+08:00",
        "total_amount": "199.00",
        "customer": {"identities": [{"kind": "phone", "value": "13812345678"}], "name": "Li Lei"},
        "lines": [
            {"sku": "TOWEL-1", "name": "Towel", "quantity": 2, "unit_price": "99.50", "amount": "199.00"}
        ],
    } | fields


def post(client, path, items, headers, key=None):
    extra = dict(headers) | ({"Idempotency-Key": key} if key else {})
    return client.post(path, json.dumps({"items": items}), content_type="application/json", headers=extra)


def test_orders_batch_gives_per_item_results(client, stores, head_a_token):
    items = [
        order("A-1"),
        order("A-2", total_amount="-5"),
        order("A-3", store="site:nowhere"),
        order("A-1", total_amount="1.00"),
        order("A-4", customer=None, status="created", lines=[]),
    ]

    response = post(client, "/api/v1/orders", items, head_a_token)

    assert response.status_code == 202
    results = response.json()["results"]
    first = Order.objects.get(external_id="A-1")
    guest = Order.objects.get(external_id="A-4")
    assert results[0] == {"index": 0, "status": "created", "id": first.pk, "errors": []}
    assert results[1]["status"] == "rejected"
    assert [error["loc"] for error in results[1]["errors"]] == [["total_amount"]]
    assert results[2] == {
        "index": 2,
        "status": "rejected",
        "id": None,
        "errors": [
            {"loc": ["store"], "msg": "No such store in your business units.", "type": "unknown_store"}
        ],
    }
    assert results[3]["status"] == "rejected"
    assert results[3]["errors"][0]["type"] == "duplicate"
    assert results[4] == {"index": 4, "status": "created", "id": guest.pk, "errors": []}
    assert (first.total_amount, first.item_count, first.status) == (Decimal("199.00"), 2, "paid")
    assert first.customer.identities.get().value == "+8613812345678"
    assert guest.customer is None


def test_resending_orders_reports_unchanged_updated_and_stale(client, stores, head_a_token):
    post(client, "/api/v1/orders", [order("A-1", updated_at="2024-05-02T00:00:00Z")], head_a_token)

    response = post(
        client,
        "/api/v1/orders",
        [
            order("A-1", updated_at="2024-05-02T00:00:00Z"),
        ],
        head_a_token,
    )
    newer = post(
        client,
        "/api/v1/orders",
        [order("A-1", status="shipped", updated_at="2024-05-03T00:00:00Z")],
        head_a_token,
    )
    older = post(
        client,
        "/api/v1/orders",
        [order("A-1", status="cancelled", updated_at="2024-05-01T00:00:00Z")],
        head_a_token,
    )

    assert [r.json()["results"][0]["status"] for r in (response, newer, older)] == [
        "unchanged",
        "updated",
        "stale",
    ]
    assert Order.objects.get().status == Order.Status.SHIPPED
    assert Customer.objects.count() == 1


def test_more_than_1000_items_is_a_422_problem(client, stores, head_a_token):
    items = [order(f"A-{n}") for n in range(1_001)]

    response = post(client, "/api/v1/orders", items, head_a_token)

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "A batch holds at most 1,000 items; split it."
    assert not Order.objects.exists()


def test_exactly_1000_items_are_accepted(client, stores, head_a_token):
    items = [order(f"A-{n}", customer=None, lines=[]) for n in range(1_000)]

    response = post(client, "/api/v1/orders", items, head_a_token)

    assert response.status_code == 202
    assert Order.objects.count() == 1_000


def test_idempotency_key_replays_the_stored_response(client, stores, head_a_token):
    first = post(client, "/api/v1/orders", [order("A-1")], head_a_token, key="batch-1")
    Order.objects.filter(external_id="A-1").update(total_amount=Decimal("1.00"))

    again = post(client, "/api/v1/orders", [order("A-1")], head_a_token, key="batch-1")

    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.json()["results"][0]["status"] == "created"
    # Replayed, not re-applied: the order keeps the value changed in between.
    assert Order.objects.get().total_amount == Decimal("1.00")
    assert IdempotencyRecord.objects.count() == 1


def test_idempotency_key_with_another_body_is_a_409_problem(client, stores, head_a_token):
    post(client, "/api/v1/orders", [order("A-1")], head_a_token, key="batch-1")

    response = post(client, "/api/v1/orders", [order("A-2")], head_a_token, key="batch-1")
    other_endpoint = post(
        client,
        "/api/v1/events",
        [
            {
                "store": "site:home",
                "external_id": "e1",
                "kind": "browse",
                "occurred_at": "2024-05-01T10:00:00Z",
            }
        ],
        head_a_token,
        key="batch-1",
    )

    assert (response.status_code, other_endpoint.status_code) == (409, 409)
    assert response.json()["type"] == "urn:guanxi:problem:conflict"
    assert list(Order.objects.values_list("external_id", flat=True)) == ["A-1"]
    assert not Event.objects.exists()


def test_unit_a_token_cannot_ingest_into_a_unit_b_store(client, stores, head_a_token):
    response = post(client, "/api/v1/orders", [order("B-1", store="site:beauty"), order("A-1")], head_a_token)
    events = post(
        client,
        "/api/v1/events",
        [
            {
                "store": "site:beauty",
                "external_id": "e1",
                "kind": "browse",
                "occurred_at": "2024-05-01T10:00:00Z",
            }
        ],
        head_a_token,
    )

    assert [result["status"] for result in response.json()["results"]] == ["rejected", "created"]
    assert events.json()["results"][0]["errors"][0]["type"] == "unknown_store"
    assert list(Order.objects.values_list("store__source", flat=True)) == ["site:home"]
    assert not Event.objects.exists()


def test_read_token_and_roles_without_commerce_add_cannot_ingest(
    client, stores, make_user, unit_a, unit_a_head, bearer
):
    read = post(client, "/api/v1/orders", [order("A-1")], bearer(unit_a_head, ApiToken.Scope.READ))
    analyst = make_user("analyst_a", Role.ANALYST, [unit_a])
    denied = post(client, "/api/v1/orders", [order("A-1")], bearer(analyst, scope="read_write"))

    assert (read.status_code, denied.status_code) == (403, 403)
    assert not Order.objects.exists()


def test_events_are_stored_once_with_customer_and_hints(client, stores, head_a_token):
    items = [
        {
            "store": "site:home",
            "external_id": "evt-1",
            "kind": "add_to_cart",
            "occurred_at": "2024-05-01T10:00:00+08:00",
            "properties": {"sku": "TOWEL-1", "price": "99.50", "quantity": 1, "cart_id": "c-9"},
            "customer": {
                "identities": [
                    {"kind": "email", "value": "Li.Lei@Mail.cn"},
                    {"kind": "phone", "value": "138****5678"},
                ]
            },
        },
        {
            "store": "site:home",
            "external_id": "evt-2",
            "kind": "browse",
            "anonymous_id": "cookie-1",
            "occurred_at": "2024-05-01T10:01:00+08:00",
            "properties": {"url": "/towels"},
        },
        {
            "store": "site:home",
            "external_id": "evt-3",
            "kind": "teleport",
            "occurred_at": "2024-05-01T10:01:00Z",
        },
    ]

    first = post(client, "/api/v1/events", items, head_a_token)
    again = post(client, "/api/v1/events", items[:2], head_a_token)

    assert [r["status"] for r in first.json()["results"]] == ["created", "created", "rejected"]
    assert first.json()["results"][2]["errors"][0]["loc"] == ["kind"]
    assert [r["status"] for r in again.json()["results"]] == ["unchanged", "unchanged"]
    cart = Event.objects.get(external_id="evt-1")
    assert (cart.kind, cart.properties["cart_id"], cart.unit_id) == ("add_to_cart", "c-9", stores[0].unit_id)
    assert list(Identity.objects.values_list("kind", "value")) == [("email", "li.lei@mail.cn")]
    assert list(IdentityHint.objects.values_list("customer_id", "kind", "value")) == [
        (cart.customer_id, "phone", "138****5678")
    ]
    assert Event.objects.get(external_id="evt-2").customer is None


def test_lines_follow_their_orders_customer_time_and_status(client, stores, head_a_token):
    from guanxi.commerce.models import OrderLine
    from guanxi.customers.merging.merge import merge_customers, undo_merge

    post(client, "/api/v1/orders", [order("A-1")], head_a_token)
    post(
        client,
        "/api/v1/orders",
        [
            order(
                "A-1",
                status="completed",
                placed_at="2024-05-03T10:00:00+08:00",
                updated_at="2024-05-04T00:00:00Z",
            )
        ],
        head_a_token,
    )
    placed = Order.objects.get(external_id="A-1")
    facts = ("customer_id", "unit_id", "placed_at", "status")
    assert list(OrderLine.objects.values_list(*facts)) == [
        (placed.customer_id, placed.unit_id, placed.placed_at, "completed")
    ]

    other = Customer.objects.create(name="Li Lei (older)")
    record = merge_customers(other, placed.customer)
    assert list(OrderLine.objects.values_list("customer_id", flat=True)) == [other.pk]
    undo_merge(record)
    assert list(OrderLine.objects.values_list("customer_id", flat=True)) == [placed.customer_id]
