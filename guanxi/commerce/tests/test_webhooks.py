"""Shopify and WooCommerce webhooks through HTTP: signatures, replays and out-of-order updates.

Each post is acknowledged from the inbox; the helpers then drain it, as the worker does."""

import base64
import copy
import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from guanxi.commerce.actions import set_webhook_secret
from guanxi.commerce.inbox import drain
from guanxi.commerce.models import Channel, Order, Store, WebhookDelivery, WebhookInbox
from guanxi.commerce.tests.payloads import shopify_customer, shopify_order, woocommerce_order
from guanxi.core.models import AuditEntry
from guanxi.customers.models import Customer, CustomerUnit, Identity

SECRET = "shpss_0123456789abcdef"


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def shop(unit_a, admin_user):
    store = Store.objects.create(unit=unit_a, name="Apple", channel=Channel.SHOPIFY, source="shopify:apple")
    set_webhook_secret(store, SECRET, actor=admin_user)
    return store


@pytest.fixture
def woo(unit_a):
    store = Store.objects.create(unit=unit_a, name="Woo", channel=Channel.WOOCOMMERCE, source="woo:example")
    set_webhook_secret(store, SECRET)
    return store


def post_shopify(
    client, payload, *, topic="orders/create", event="evt-1", signature=None, source="shopify:apple"
):
    body = json.dumps(payload).encode()
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": event}
    if signature is not False:
        headers["X-Shopify-Hmac-Sha256"] = sign(body) if signature is None else signature
    response = client.post(
        f"/webhooks/shopify/{source}", body, content_type="application/json", headers=headers
    )
    drain(5)
    return response


def post_woo(client, payload, *, topic="order.created", delivery="1", signature=None):
    body = json.dumps(payload).encode()
    headers = {"X-WC-Webhook-Topic": topic, "X-WC-Webhook-Delivery-ID": delivery, "X-WC-Webhook-ID": "7"}
    if signature is not False:
        headers["X-WC-Webhook-Signature"] = sign(body) if signature is None else signature
    response = client.post(
        "/webhooks/woocommerce/woo:example", body, content_type="application/json", headers=headers
    )
    drain(5)
    return response


def outcome(event: str) -> str:
    return WebhookDelivery.objects.get(event_id=event).status


def nothing_stored() -> bool:
    return not (Order.objects.exists() or WebhookDelivery.objects.exists() or Customer.objects.exists())


def test_signed_shopify_order_is_stored(client, shop):
    response = post_shopify(client, shopify_order())

    assert response.status_code == 200
    assert response.json() == {"status": "queued"}
    assert not WebhookInbox.objects.exists()
    order = Order.objects.get()
    assert (order.store, order.number, order.total_amount) == (shop, "#2001", Decimal("256.00"))
    delivery = WebhookDelivery.objects.get()
    assert (delivery.platform, delivery.event_id, delivery.topic, delivery.status) == (
        "shopify",
        "evt-1",
        "orders/create",
        "processed",
    )
    assert delivery.message == "created"


@pytest.mark.parametrize("signature", [False, "", "bm90IHRoZSBzaWduYXR1cmU=", sign(b"another body")])
def test_missing_or_wrong_signature_is_rejected_and_stores_nothing(client, shop, signature):
    response = post_shopify(client, shopify_order(), signature=signature)

    assert response.status_code == 401
    assert nothing_stored()


def test_signature_with_another_secret_is_rejected(client, shop):
    body = json.dumps(shopify_order()).encode()
    response = post_shopify(client, json.loads(body), signature=sign(body, "someone-elses-secret"))

    assert response.status_code == 401
    assert nothing_stored()


def test_unknown_store_or_store_without_secret_is_rejected(client, shop, unit_a):
    Store.objects.create(unit=unit_a, name="No secret", channel=Channel.SHOPIFY, source="shopify:open")
    payload = shopify_order()

    assert post_shopify(client, payload, source="shopify:unknown").status_code == 401
    assert post_shopify(client, payload, source="shopify:open").status_code == 401
    assert nothing_stored()


def test_replayed_webhook_changes_nothing(client, shop):
    payload = shopify_order()
    post_shopify(client, payload, event="evt-1")
    altered = copy.deepcopy(payload) | {"total_price": "1.00", "updated_at": "2030-01-01T00:00:00Z"}

    again = post_shopify(client, payload, event="evt-1")
    replay_altered = post_shopify(client, altered, event="evt-1")

    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert (replay_altered.status_code, replay_altered.json()) == (200, {"status": "duplicate"})
    assert Order.objects.get().total_amount == Decimal("256.00")
    assert WebhookDelivery.objects.count() == 1


def test_older_update_after_newer_is_ignored(client, shop):
    payload = shopify_order()
    newer = payload | {
        "updated_at": "2026-03-03T09:00:00+08:00",
        "financial_status": "paid",
        "total_price": "388.00",
    }
    older = payload | {
        "updated_at": "2026-03-02T20:00:00+08:00",
        "financial_status": "pending",
        "total_price": "399.00",
    }

    post_shopify(client, payload, event="evt-1")
    first = post_shopify(client, newer, topic="orders/updated", event="evt-3")
    late = post_shopify(client, older, topic="orders/updated", event="evt-2")

    assert (first.json(), late.json()) == ({"status": "queued"}, {"status": "queued"})
    order = Order.objects.get()
    assert (order.status, order.total_amount) == (Order.Status.PAID, Decimal("388.00"))
    assert order.source_updated_at.isoformat() == "2026-03-03T01:00:00+00:00"
    assert list(WebhookDelivery.objects.order_by("event_id").values_list("event_id", "status")) == [
        ("evt-1", "processed"),
        ("evt-2", "stale"),
        ("evt-3", "processed"),
    ]


def test_shopify_customer_create_adds_the_customer_to_the_store_unit(client, shop, unit_a):
    post_shopify(client, shopify_customer(), topic="customers/create", event="evt-c")

    assert outcome("evt-c") == "processed"
    customer = Customer.objects.get()
    assert customer.name == "Na Li"
    assert list(CustomerUnit.objects.filter(customer=customer).values_list("unit_id", flat=True)) == [
        unit_a.pk
    ]
    assert set(Identity.objects.values_list("kind", "value")) == {
        ("shopify_id", "6001"),
        ("email", "li.na@hzmail.cn"),
    }


def test_unhandled_topic_and_malformed_body_are_acknowledged_but_change_nothing(client, shop):
    ignored = post_shopify(client, {"id": 1}, topic="products/create", event="evt-9")
    body = b"{not json"
    broken = client.post(
        "/webhooks/shopify/shopify:apple",
        body,
        content_type="application/json",
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": "evt-10",
            "X-Shopify-Hmac-Sha256": sign(body),
        },
    )

    drain(5)

    assert (ignored.json(), broken.json()) == ({"status": "queued"}, {"status": "queued"})
    assert (outcome("evt-9"), outcome("evt-10")) == ("ignored", "failed")
    assert not Order.objects.exists()
    assert WebhookDelivery.objects.get(event_id="evt-10").message == "invalid JSON"


def test_woocommerce_order_created_then_older_update_ignored(client, woo):
    order = woocommerce_order()

    created = post_woo(client, order, delivery="100")
    older = post_woo(
        client,
        order | {"status": "cancelled", "date_modified_gmt": "2026-03-05T01:00:00"},
        topic="order.updated",
        delivery="101",
    )
    newer = post_woo(
        client,
        order | {"status": "completed", "date_modified_gmt": "2026-03-06T08:00:00"},
        topic="order.updated",
        delivery="102",
    )
    replay = post_woo(
        client,
        order | {"status": "cancelled", "date_modified_gmt": "2027-01-01T00:00:00"},
        topic="order.updated",
        delivery="102",
    )

    assert [r.json()["status"] for r in (created, older, newer, replay)] == [
        "queued",
        "queued",
        "queued",
        "duplicate",
    ]
    assert [outcome(delivery) for delivery in ("100", "101", "102")] == ["processed", "stale", "processed"]
    stored = Order.objects.get()
    assert (stored.number, stored.status, stored.total_amount) == ("950", "completed", Decimal("120.00"))


def test_woocommerce_bad_signature_is_rejected(client, woo):
    response = post_woo(client, woocommerce_order(), signature=sign(b"x"))
    missing = post_woo(client, woocommerce_order(), signature=False)

    assert (response.status_code, missing.status_code) == (401, 401)
    assert nothing_stored()


def test_get_is_not_allowed(client, shop):
    assert client.get("/webhooks/shopify/shopify:apple").status_code == 405


def test_secret_is_never_in_the_audit_log(shop):
    entry = AuditEntry.objects.get(object_type="commerce.store", object_id=str(shop.pk))
    assert entry.details == "Webhook signing secret set"
    assert SECRET not in json.dumps([entry.changes, entry.message_params]) + entry.object_label


def test_delivery_is_acknowledged_from_the_inbox_and_applied_by_the_worker(client, shop):
    body = json.dumps(shopify_order()).encode()
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": "evt-7",
        "X-Shopify-Hmac-Sha256": sign(body),
    }

    response = client.post(
        "/webhooks/shopify/shopify:apple", body, content_type="application/json", headers=headers
    )

    assert (response.status_code, response.json()) == (200, {"status": "queued"})
    assert not Order.objects.exists()
    held = WebhookInbox.objects.get()
    assert (bytes(held.body), held.store, held.delivery.status) == (body, shop, "queued")
    report = drain(5)
    assert (report.applied, report.failed) == (1, 0)
    assert not WebhookInbox.objects.exists()
    assert Order.objects.get().total_amount == Decimal("256.00")
    assert outcome("evt-7") == "processed"


def test_rows_of_a_dead_worker_are_applied_once_its_lease_runs_out(client, shop):
    from datetime import timedelta

    from django.utils import timezone

    from guanxi.commerce.inbox import LEASE, QUEUE
    from guanxi.core.claims import claim

    body = json.dumps(shopify_order()).encode()
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": "evt-8",
        "X-Shopify-Hmac-Sha256": sign(body),
    }
    client.post("/webhooks/shopify/shopify:apple", body, content_type="application/json", headers=headers)
    claim(WebhookInbox.objects.all(), queue=QUEUE, limit=10, lease=LEASE)  # a worker that then dies

    assert drain(1).applied == 0
    WebhookInbox.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert drain(5).applied == 1
    assert Order.objects.count() == 1 and not WebhookInbox.objects.exists()


def test_database_down_answers_503_and_stores_nothing(client, shop):
    from unittest import mock

    from django.db import OperationalError
    from django.db.backends.base.base import BaseDatabaseWrapper

    body = json.dumps(shopify_order()).encode()
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": "evt-9",
        "X-Shopify-Hmac-Sha256": sign(body),
    }
    refused = OperationalError("connection refused")
    with mock.patch.object(BaseDatabaseWrapper, "ensure_connection", side_effect=refused):
        response = client.post(
            "/webhooks/shopify/shopify:apple", body, content_type="application/json", headers=headers
        )
        health = client.get("/webhooks/health")

    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert health.status_code == 503
    assert nothing_stored()
    assert client.get("/webhooks/health").json() == {"status": "ok"}
