"""Stores set up from the UI and the API: added to one of the user's units with channel, currency
and time zone, renamed, and their webhook secret rotated; every write audited, every read scoped."""

import pytest

from guanxi.accounts.roles import Role
from guanxi.commerce.models import Channel, Store
from guanxi.commerce.tests.factories import make_store
from guanxi.commerce.webhooks import signature_of
from guanxi.core.models import AuditEntry


def test_a_unit_head_adds_a_store_to_their_unit(client, unit_a_head, unit_a, unit_b):
    client.force_login(unit_a_head)

    form = client.get("/stores/").context["form"]
    response = client.post(
        "/stores/",
        {
            "name": "家纺 JD 旗舰店",
            "unit": unit_a.pk,
            "channel": "jd",
            "currency": "cny",
            "time_zone": "Asia/Shanghai",
        },
    )
    into_b = client.post(
        "/stores/",
        {
            "name": "Not mine",
            "unit": unit_b.pk,
            "channel": "jd",
            "currency": "CNY",
            "time_zone": "Asia/Shanghai",
        },
    )

    assert [choice for choice, _label in form.fields["unit"].choices] == [unit_a.pk]
    store = Store.objects.get(name="家纺 JD 旗舰店")
    assert response.status_code == 302
    assert response["Location"] == f"/stores/{store.pk}/"
    assert (store.unit, store.channel, store.source, store.currency, store.time_zone) == (
        unit_a,
        "jd",
        "jd:jd",
        "CNY",
        "Asia/Shanghai",
    )
    assert into_b.status_code == 200
    assert into_b.context["form"].errors == {
        "unit": [f"Select a valid choice. {unit_b.pk} is not one of the available choices."]
    }
    entry = AuditEntry.objects.get(object_type="commerce.store")
    assert (entry.action, entry.actor, entry.unit, entry.details) == (
        "create",
        unit_a_head,
        unit_a,
        "JD store jd:jd, CNY, time zone Asia/Shanghai",
    )


def test_sources_are_numbered_when_a_name_repeats(unit_a):
    from guanxi.commerce.actions import create_store

    first = create_store(unit=unit_a, name="Home Shop", channel=Channel.SHOPIFY)
    second = create_store(unit=unit_a, name="Home shop", channel=Channel.SHOPIFY)

    assert (first.source, second.source) == ("shopify:home-shop", "shopify:home-shop-2")


def test_renaming_and_a_new_currency_and_time_zone_are_audited(client, unit_a_head, unit_a):
    store = make_store(unit_a, "home-tmall")
    client.force_login(unit_a_head)

    response = client.post(
        f"/stores/{store.pk}/", {"name": "家纺天猫店", "currency": "hkd", "time_zone": "Asia/Hong_Kong"}
    )

    store.refresh_from_db()
    assert response.status_code == 302
    assert (store.name, store.currency, store.time_zone, store.source) == (
        "家纺天猫店",
        "HKD",
        "Asia/Hong_Kong",
        "tmall:home-tmall",
    )
    entry = AuditEntry.objects.get(object_type="commerce.store", action="update")
    assert entry.changes == {
        "name": {"from": "[redacted]", "to": "[redacted]"},
        "currency": {"from": "CNY", "to": "HKD"},
        "time_zone": {"from": "Asia/Shanghai", "to": "Asia/Hong_Kong"},
    }


@pytest.mark.parametrize("role", [Role.ANALYST, Role.SERVICE_AGENT, Role.MARKETER])
def test_roles_without_commerce_writes_see_stores_but_change_none(client, make_user, unit_a, role):
    store = make_store(unit_a, "home-tmall")
    client.force_login(make_user("someone", role, [unit_a]))

    listed = client.get("/stores/")
    added = client.post("/stores/", {"name": "X", "unit": unit_a.pk, "channel": "jd", "currency": "CNY"})
    renamed = client.post(
        f"/stores/{store.pk}/", {"name": "X", "currency": "CNY", "time_zone": "Asia/Shanghai"}
    )

    assert (listed.status_code, listed.context["form"]) == (200, None)
    assert "store-settings" not in client.get(f"/stores/{store.pk}/").content.decode()
    assert (added.status_code, renamed.status_code) == (403, 403)
    assert list(Store.objects.values_list("name", flat=True)) == ["home-tmall"]


def test_the_api_adds_changes_and_rotates(client, unit_a_head, unit_a, unit_b, bearer, settings):
    settings.GUANXI_PUBLIC_URL = "https://crm.example.com"
    token = bearer(unit_a_head, scope="read_write")

    created = client.post(
        "/api/v1/stores",
        {"unit_id": unit_a.pk, "name": "Home Shopify", "channel": "shopify", "time_zone": "Asia/Shanghai"},
        content_type="application/json",
        headers=token,
    )
    into_b = client.post(
        "/api/v1/stores",
        {"unit_id": unit_b.pk, "name": "Theirs", "channel": "shopify"},
        content_type="application/json",
        headers=token,
    )
    store_id = created.json()["id"]
    patched = client.patch(
        f"/api/v1/stores/{store_id}", {"currency": "usd"}, content_type="application/json", headers=token
    )
    first = client.post(
        f"/api/v1/stores/{store_id}/webhook-secret", {}, content_type="application/json", headers=token
    ).json()
    second = client.post(
        f"/api/v1/stores/{store_id}/webhook-secret",
        {"secret": "shpss_0123456789abcdef0123456789abcdef"},
        content_type="application/json",
        headers=token,
    ).json()
    shown = client.get(f"/api/v1/stores/{store_id}", headers=token).json()
    listed = client.get("/api/v1/stores", headers=token).json()

    assert created.status_code == 201
    assert {key: created.json()[key] for key in ("name", "channel", "unit_id", "source", "currency")} == {
        "name": "Home Shopify",
        "channel": "shopify",
        "unit_id": unit_a.pk,
        "source": "shopify:home-shopify",
        "currency": "CNY",
    }
    assert created.json()["webhook_url"] == "https://crm.example.com/webhooks/shopify/shopify:home-shopify"
    assert into_b.status_code == 422
    assert (patched.status_code, patched.json()["currency"]) == (200, "USD")
    assert first["old_secret_accepted_until"] is None
    assert second["secret"] == "shpss_0123456789abcdef0123456789abcdef"
    assert second["old_secret_accepted_until"] is not None
    assert (shown["has_webhook_secret"], shown["old_secret_accepted_until"]) == (
        True,
        second["old_secret_accepted_until"],
    )
    assert first["secret"] not in str(shown) + str(listed)
    assert [item["name"] for item in listed["items"]] == ["Home Shopify"]
    # Both secrets sign deliveries during the hour after the rotation.
    for secret, event in ((first["secret"], "old"), (second["secret"], "new")):
        delivered = client.post(
            "/webhooks/shopify/shopify:home-shopify",
            b"{}",
            content_type="application/json",
            headers={
                "X-Shopify-Hmac-Sha256": signature_of(secret, b"{}"),
                "X-Shopify-Topic": "app/uninstalled",
                "X-Shopify-Event-Id": event,
            },
        )
        assert delivered.status_code == 200
    assert [
        entry.details for entry in AuditEntry.objects.filter(object_type="commerce.store").order_by("id")
    ][:3] == [
        "Shopify store shopify:home-shopify, CNY, time zone Asia/Shanghai",
        "",
        "Webhook signing secret set",
    ]


def test_a_read_only_token_and_another_units_store_are_refused(client, unit_a_head, unit_b, bearer):
    theirs = make_store(unit_b, "beauty-tmall")

    read_only = client.post(
        "/api/v1/stores",
        {"unit_id": unit_b.pk, "name": "X", "channel": "jd"},
        content_type="application/json",
        headers=bearer(unit_a_head),
    )
    other = client.get(f"/api/v1/stores/{theirs.pk}", headers=bearer(unit_a_head))

    assert (read_only.status_code, other.status_code) == (403, 404)
