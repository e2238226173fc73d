"""The stores pages: the unit's stores with order counts, webhook addresses, and the write-only secret."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from guanxi.accounts.roles import Role
from guanxi.commerce.models import Channel, Store, WebhookDelivery
from guanxi.commerce.tests.factories import make_order, make_store
from guanxi.commerce.webhooks import signature_of
from guanxi.core.models import AuditEntry

PASTED = "shpss_0123456789abcdef0123456789abcdef"


@pytest.fixture
def stores(unit_a, unit_b):
    shopify = make_store(unit_a, "home-shop", Channel.SHOPIFY)
    tmall = make_store(unit_a, "home-tmall", Channel.TMALL)
    beauty = make_store(unit_b, "beauty-woo", Channel.WOOCOMMERCE)
    make_order(shopify, None, "S-1", "10.00", (2026, 1, 1))
    make_order(shopify, None, "S-2", "20.00", (2026, 1, 2))
    make_order(beauty, None, "B-1", "30.00", (2026, 1, 3))
    return {"shopify": shopify, "tmall": tmall, "beauty": beauty}


def webhook(client, store, secret, body=b"{}", event=""):
    return client.post(
        f"/webhooks/shopify/{store.source}",
        body,
        content_type="application/json",
        headers={
            "X-Shopify-Hmac-Sha256": signature_of(secret, body),
            "X-Shopify-Topic": "app/uninstalled",
            "X-Shopify-Event-Id": event or f"event-{secret[-6:]}",
        },
    )


def test_the_list_shows_the_units_stores_with_their_order_counts(client, unit_a_head, stores):
    client.force_login(unit_a_head)

    response = client.get("/stores/")

    assert [
        (store.name, store.get_channel_display(), store.unit.name, store.order_count)
        for store in response.context["stores"]
    ] == [("home-shop", "Shopify", "Home textiles", 2), ("home-tmall", "Tmall", "Home textiles", 0)]
    assert "beauty" not in response.content.decode()


def test_a_store_page_gives_the_public_webhook_address_and_never_the_secret(
    client, unit_a_head, stores, settings
):
    settings.GUANXI_PUBLIC_URL = "https://crm.example.com"
    Store.objects.filter(pk=stores["shopify"].pk).update(webhook_secret=PASTED)
    client.force_login(unit_a_head)

    response = client.get(f"/stores/{stores['shopify'].pk}/", HTTP_HOST="127.0.0.1:8000")

    assert response.context["webhook_url"] == "https://crm.example.com/webhooks/shopify/shopify:home-shop"
    assert response.context["webhook_topics"] == ("orders/create", "orders/updated", "customers/create")
    assert response.context["has_secret"] is True
    body = response.content.decode()
    assert "https://crm.example.com/webhooks/shopify/shopify:home-shop" in body
    assert "127.0.0.1" not in body
    assert PASTED not in body
    assert "Rotate the secret" in body


def test_without_a_public_url_the_page_says_how_to_set_it(client, unit_a_head, stores, settings):
    settings.GUANXI_PUBLIC_URL = ""
    client.force_login(unit_a_head)

    response = client.get(f"/stores/{stores['shopify'].pk}/", HTTP_HOST="127.0.0.1:8000")

    assert response.context["webhook_url"] is None
    assert response.context["webhook_path"] == "/webhooks/shopify/shopify:home-shop"
    body = response.content.decode()
    assert "GUANXI_PUBLIC_URL" in body
    assert "127.0.0.1" not in body


def test_a_generated_secret_is_shown_once_and_signs_the_webhooks(client, unit_a_head, stores):
    store = stores["shopify"]
    client.force_login(unit_a_head)

    response = client.post(f"/stores/{store.pk}/webhook-secret/", {"secret": ""})

    secret = response.context["new_secret"]
    store.refresh_from_db()
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert len(secret) == 43
    assert store.webhook_secret == secret
    assert secret in response.content.decode()
    assert secret not in client.get(f"/stores/{store.pk}/").content.decode()
    assert webhook(client, store, secret).status_code == 200
    entry = AuditEntry.objects.get(object_type="commerce.store")
    assert (entry.action, entry.actor, entry.unit, entry.details) == (
        "update",
        unit_a_head,
        store.unit,
        "Webhook signing secret set",
    )
    assert secret not in json.dumps([entry.changes, entry.message_params, entry.object_label])


def test_rotating_keeps_the_old_secret_valid_for_an_hour(client, unit_a_head, stores):
    store = stores["shopify"]
    client.force_login(unit_a_head)
    first = client.post(f"/stores/{store.pk}/webhook-secret/", {"secret": ""}).context["new_secret"]

    before = timezone.now()
    response = client.post(f"/stores/{store.pk}/webhook-secret/", {"secret": f"  {PASTED} "})

    store.refresh_from_db()
    assert response.context["new_secret"] == PASTED
    assert store.webhook_secret == PASTED
    assert first not in response.content.decode()
    assert timedelta(minutes=59) < store.previous_secret_until - before <= timedelta(hours=1, seconds=5)
    # Until the platform signs with the new secret, deliveries signed with the old one still count.
    assert webhook(client, store, first, event="old-1").status_code == 200
    assert webhook(client, store, PASTED, event="new-1").status_code == 200
    # An hour on, the old secret's grace is over.
    Store.objects.filter(pk=store.pk).update(previous_secret_until=timezone.now() - timedelta(seconds=1))
    assert webhook(client, store, first, event="old-2").status_code == 401
    assert webhook(client, store, PASTED, event="new-2").status_code == 200
    assert list(WebhookDelivery.objects.order_by("id").values_list("event_id", flat=True)) == [
        "old-1",
        "new-1",
        "new-2",
    ]
    entry = AuditEntry.objects.filter(object_type="commerce.store").order_by("id").last()
    assert entry.details.startswith("Webhook signing secret rotated; the old one is accepted until ")


def test_a_short_secret_is_refused(client, unit_a_head, stores):
    store = stores["shopify"]
    client.force_login(unit_a_head)

    response = client.post(f"/stores/{store.pk}/webhook-secret/", {"secret": "short"})

    store.refresh_from_db()
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "secret": ["Ensure this value has at least 16 characters (it has 5)."]
    }
    assert (store.webhook_secret, response.context["new_secret"]) == ("", "")


def test_a_channel_without_webhooks_says_so(client, unit_a_head, stores):
    client.force_login(unit_a_head)

    response = client.get(f"/stores/{stores['tmall'].pk}/")

    assert (response.context["webhook_url"], response.context["webhook_path"]) == (None, None)
    assert "This channel has no webhook connector." in response.content.decode()


def test_setting_the_secret_needs_the_change_permission(client, unit_a, stores, make_user):
    analyst = make_user("analyst_a", Role.ANALYST, [unit_a])
    store = stores["shopify"]
    client.force_login(analyst)

    page = client.get(f"/stores/{store.pk}/")
    refused = client.post(f"/stores/{store.pk}/webhook-secret/", {"secret": PASTED})

    store.refresh_from_db()
    assert page.status_code == 200
    assert "Set the secret" not in page.content.decode()
    assert refused.status_code == 403
    assert store.webhook_secret == ""
    denial = AuditEntry.objects.get(action="permission_denied")
    assert (denial.actor, denial.object_id, denial.unit, denial.details) == (
        analyst,
        "commerce.change",
        unit_a,
        f"Refused: POST /stores/{store.pk}/webhook-secret/",
    )


def test_another_units_store_is_not_found(client, unit_a_head, manager, stores, settings):
    settings.GUANXI_PUBLIC_URL = "https://crm.example.com"
    beauty = stores["beauty"]
    client.force_login(unit_a_head)

    page = client.get(f"/stores/{beauty.pk}/")
    posted = client.post(f"/stores/{beauty.pk}/webhook-secret/", {"secret": PASTED})
    client.force_login(manager)
    seen = client.get(f"/stores/{beauty.pk}/")

    beauty.refresh_from_db()
    assert (page.status_code, posted.status_code, seen.status_code) == (404, 404, 200)
    assert beauty.webhook_secret == ""
    assert (
        seen.context["webhook_url"] == "https://crm.example.com/webhooks/woocommerce/woocommerce:beauty-woo"
    )
