"""Reconciliation (reliability.md IN-6): webhooks dropped on purpose are recovered by one pass of the
polling job against fake Shopify and WooCommerce REST APIs on loopback, which page as the real ones do."""

import base64
import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.utils import timezone

from guanxi.commerce.actions import set_api_credentials, set_webhook_secret
from guanxi.commerce.inbox import drain
from guanxi.commerce.models import Channel, Order, Store
from guanxi.commerce.reconcile import ReconcileError, reconcile_store, reconcile_stores
from guanxi.commerce.tests.payloads import shopify_order, woocommerce_order
from guanxi.commerce.webhooks import signature_of
from guanxi.core import outbound
from guanxi.core.models import AuditEntry

SECRET = "shpss_0123456789abcdef"
TOKEN = "shpat_reconcile_token_0001"
BASE = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class FakePlatform:
    """Shopify Admin REST and WooCommerce REST order listings on 127.0.0.1, `page_size` a page."""

    def __init__(self, page_size: int) -> None:
        self.shopify: list[dict] = []
        self.woocommerce: list[dict] = []
        self.page_size = page_size
        self.requests: list[tuple[str, dict, dict]] = []
        self.fail_page: int | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                fake.requests.append((url.path, query, dict(self.headers)))
                if url.path.endswith("/orders.json"):
                    self._shopify(query)
                elif url.path == "/wp-json/wc/v3/orders":
                    self._woocommerce(query)
                else:
                    self._answer(404, {"errors": "Not Found"})

            def _shopify(self, query: dict) -> None:
                if self.headers.get("X-Shopify-Access-Token") != TOKEN:
                    return self._answer(401, {"errors": "Invalid API key or access token"})
                # As Shopify does, a next-page link carries only an opaque cursor (here: page and filter).
                cursor = (
                    json.loads(base64.urlsafe_b64decode(query["page_info"])) if "page_info" in query else {}
                )
                since = datetime.fromisoformat(cursor.get("since") or query["updated_at_min"])
                matching = [o for o in fake.shopify if datetime.fromisoformat(o["updated_at"]) >= since]
                page = cursor.get("page", 1)
                if page == fake.fail_page:
                    return self._answer(500, {"errors": "Internal error"})
                chunk = matching[(page - 1) * fake.page_size : page * fake.page_size]
                headers = {}
                if page * fake.page_size < len(matching):
                    token = base64.urlsafe_b64encode(
                        json.dumps({"page": page + 1, "since": since.isoformat()}).encode()
                    )
                    nxt = f"{fake.url}{urlsplit(self.path).path}?" + urlencode(
                        {"limit": fake.page_size, "page_info": token.decode()}
                    )
                    headers["Link"] = f'<{nxt}>; rel="next"'
                self._answer(200, {"orders": chunk}, headers)

            def _woocommerce(self, query: dict) -> None:
                expected = "Basic " + base64.b64encode(b"ck_key:cs_secret").decode()
                if self.headers.get("Authorization") != expected:
                    return self._answer(401, {"code": "woocommerce_rest_cannot_view"})
                since = datetime.fromisoformat(query["modified_after"]).replace(tzinfo=UTC)
                matching = [
                    o
                    for o in fake.woocommerce
                    if datetime.fromisoformat(o["date_modified_gmt"]).replace(tzinfo=UTC) > since
                ]
                page = int(query["page"])
                chunk = matching[(page - 1) * fake.page_size : page * fake.page_size]
                pages = max(1, -(-len(matching) // fake.page_size))
                self._answer(200, chunk, {"X-WP-TotalPages": str(pages), "X-WP-Total": str(len(matching))})

            def _answer(self, status: int, data, headers: dict | None = None) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def platform():
    fake = FakePlatform(page_size=15)
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def shop(unit_a, admin_user, platform):
    store = Store.objects.create(unit=unit_a, name="Apple", channel=Channel.SHOPIFY, source="shopify:apple")
    set_webhook_secret(store, SECRET)
    set_api_credentials(store, api_url=platform.url, api_key="", secret=TOKEN, actor=admin_user)
    return store


def deliver(client, order: dict, event: str) -> None:
    body = json.dumps(order).encode()
    headers = {
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Event-Id": event,
        "X-Shopify-Hmac-Sha256": signature_of(SECRET, body),
    }
    assert (
        client.post(
            "/webhooks/shopify/shopify:apple", body, content_type="application/json", headers=headers
        ).status_code
        == 200
    )


def shop_orders(count: int, base: datetime = BASE) -> list[dict]:
    return [
        shopify_order(
            id=830000 + n,
            name=f"#R{n}",
            total_price=f"{100 + n}.00",
            line_items=[{"id": 1, "sku": "TEA-01", "title": "Tea", "quantity": 1, "price": f"{100 + n}.00"}],
            updated_at=(base + timedelta(minutes=n)).isoformat(),
        )
        for n in range(count)
    ]


def test_dropped_shopify_webhooks_are_all_recovered_in_one_pass(client, shop, platform):
    orders = shop_orders(40)
    platform.shopify = orders
    dropped = {orders[n]["id"] for n in (3, 17)}  # 5 % never delivered
    for order in orders:
        if order["id"] not in dropped:
            deliver(client, order, f"evt-{order['id']}")
    drain(5)
    assert Order.objects.count() == 38

    result = reconcile_store(shop, now=BASE + timedelta(hours=1))

    assert (result.fetched, result.recovered, result.rejected) == (40, 2, 0)
    assert set(Order.objects.values_list("external_id", flat=True)) == {str(o["id"]) for o in orders}
    assert Order.objects.get(external_id="830017").total_amount == Decimal("117.00")
    shop.refresh_from_db()
    assert shop.reconciled_until == BASE + timedelta(minutes=39)
    assert shop.reconcile_result == {"fetched": 40, "recovered": 2, "rejected": 0}
    # Three pages through the Link header; the first asked for every status since the first lookback.
    assert len(platform.requests) == 3 and ["page_info" in query for _p, query, _h in platform.requests] == [
        False,
        True,
        True,
    ]
    path, query, headers = platform.requests[0]
    assert path == "/admin/api/2024-10/orders.json"
    assert (query["status"], query["updated_at_min"]) == ("any", "2026-03-01T01:58:00+00:00")
    assert headers["X-Shopify-Access-Token"] == TOKEN


def test_the_next_pass_starts_at_the_watermark_and_changes_nothing_already_held(shop, platform):
    platform.shopify = shop_orders(5)
    reconcile_store(shop, now=BASE + timedelta(hours=1))
    platform.requests.clear()

    again = reconcile_store(shop, now=BASE + timedelta(hours=2))

    # Read again from two minutes before the watermark (minute 4): orders 2, 3 and 4, all unchanged.
    assert platform.requests[0][1]["updated_at_min"] == "2026-03-02T01:02:00+00:00"
    assert (again.fetched, again.recovered) == (3, 0)
    assert Order.objects.count() == 5


def test_a_failed_page_leaves_the_watermark_where_it_was(shop, platform):
    base = (timezone.now() - timedelta(hours=2)).replace(microsecond=0)
    platform.shopify = shop_orders(40, base)
    platform.fail_page = 2

    with pytest.raises(ReconcileError):
        reconcile_store(shop)

    shop.refresh_from_db()
    assert shop.reconciled_until is None
    assert shop.reconcile_result == {"error": "http_500"}
    assert Order.objects.count() == 15  # the first page was applied; the next pass reads it again
    platform.fail_page = None
    assert reconcile_stores() == {"stores": 1, "failed": 0}
    shop.refresh_from_db()
    assert Order.objects.count() == 40 and shop.reconciled_until == base + timedelta(minutes=39)


def test_dropped_woocommerce_webhooks_are_recovered_through_its_pages(unit_a, platform):
    store = Store.objects.create(unit=unit_a, name="Woo", channel=Channel.WOOCOMMERCE, source="woo:example")
    set_api_credentials(store, api_url=platform.url, api_key="ck_key", secret="cs_secret")
    platform.woocommerce = [
        woocommerce_order(
            id=960 + n,
            number=str(960 + n),
            date_modified_gmt=(BASE + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S"),
        )
        for n in range(20)
    ]

    result = reconcile_store(store, now=BASE + timedelta(hours=1))

    assert (result.fetched, result.recovered) == (20, 20)
    assert Order.objects.filter(store=store).count() == 20
    assert [query["page"] for _path, query, _headers in platform.requests] == ["1", "2"]
    assert platform.requests[0][1]["modified_after"] == "2026-03-01T01:58:00"


def test_the_store_page_takes_the_api_credentials_and_never_shows_the_secret(
    client, unit_a_head, unit_a, platform
):
    store = Store.objects.create(unit=unit_a, name="Apple", channel=Channel.SHOPIFY, source="shopify:apple")
    client.force_login(unit_a_head)

    saved = client.post(
        f"/stores/{store.pk}/api/", {"api_url": platform.url, "api_key": "", "api_secret": TOKEN}
    )

    assert saved.status_code == 302
    store.refresh_from_db()
    assert (store.api_url, store.api_secret) == (platform.url, TOKEN)
    page = client.get(f"/stores/{store.pk}/").content.decode()
    assert TOKEN not in page and 'id="reconciliation"' in page and 'id="reconciled-at">Never' in page
    entry = AuditEntry.objects.filter(object_type="commerce.store").latest("id")
    assert TOKEN not in json.dumps([entry.changes, entry.message_params]) + entry.details
    reconcile_store(store)
    assert (
        'id="reconcile-outcome">0 orders read, 0 recovered'
        in client.get(f"/stores/{store.pk}/").content.decode()
    )


def test_a_private_address_is_refused_when_private_gateways_are_not_allowed(
    client, unit_a_head, unit_a, settings
):
    settings.GUANXI_ALLOW_PRIVATE_GATEWAYS = False
    store = Store.objects.create(unit=unit_a, name="Apple", channel=Channel.SHOPIFY, source="shopify:apple")
    client.force_login(unit_a_head)

    refused = client.post(
        f"/stores/{store.pk}/api/",
        {"api_url": "http://169.254.169.254/latest", "api_key": "", "api_secret": TOKEN},
    )

    assert refused.status_code == 400
    store.refresh_from_db()
    assert store.api_url == ""


def test_a_shop_name_rebound_to_loopback_after_the_check_is_never_called(
    shop, platform, settings, monkeypatch
):
    """DNS rebinding: the name answers a public address when checked and loopback afterwards. The pass
    connects to the address it checked (unreachable here), so the loopback server hears nothing."""
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["8.8.8.8"])

    def rebinding(host, port, *args, **kwargs):
        if host != "shop.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    shop.api_url = f"http://shop.example:{platform.port}"
    shop.save(update_fields=["api_url"])
    platform.shopify = shop_orders(3)
    settings.GUANXI_ALLOW_PRIVATE_GATEWAYS = False
    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(outbound, "CONNECT_TIMEOUT", 0.5)

    with pytest.raises(ReconcileError):
        reconcile_store(shop, now=BASE + timedelta(hours=1))

    shop.refresh_from_db()
    assert shop.reconcile_result == {"error": "unreachable"}
    assert platform.requests == [] and Order.objects.count() == 0
