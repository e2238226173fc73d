"""Reconciliation (reliability.md IN-6): poll each connected store's REST API for the orders updated
since its watermark and apply them, recovering webhooks the platform dropped or never delivered.

Shopify: `GET {shop}/admin/api/{version}/orders.json?updated_at_min=…&status=any`, the access token in
`X-Shopify-Access-Token`, the next page in the `Link` header (`rel="next"`). WooCommerce:
`GET {shop}/wp-json/wc/v3/orders?modified_after=…&dates_are_gmt=true&page=N`, HTTP basic auth with the
consumer key and secret, the page count in `X-WP-TotalPages`. Orders go through the same `apply_orders`
as webhooks, so an order already held is `unchanged` and an older one `stale`: re-reading is harmless.
Each pass starts a little before the watermark (clocks and same-second updates), and the watermark
moves only at the end of a pass that applied every page, to the newest `updated_at` it applied.
"""

import base64
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.utils import timezone

from guanxi.commerce.actions import apply_orders
from guanxi.commerce.importers.platform import RowRejected
from guanxi.commerce.importers.shopify import shopify_order
from guanxi.commerce.importers.woocommerce import woocommerce_order
from guanxi.commerce.models import Channel, Store
from guanxi.commerce.records import OrderRecord
from guanxi.core import outbound

logger = logging.getLogger("guanxi.webhooks")

SHOPIFY_API_VERSION = "2024-10"
PAGE_SIZE = 100
MAX_PAGES = 500  # a pass is bounded; what is left is read by the next one
OVERLAP = timedelta(minutes=2)
FIRST_LOOKBACK = timedelta(days=1)  # a store's first pass reads the last day
RECONCILED_CHANNELS = (Channel.SHOPIFY, Channel.WOOCOMMERCE)


class ReconcileError(Exception):
    """A pass that could not read every page; `code` is what the store page shows."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Pass:
    fetched: int = 0
    recovered: int = 0  # orders created or updated: a webhook that never arrived, or arrived late
    rejected: int = 0
    newest: datetime | None = None


def is_configured(store: Store) -> bool:
    return bool(store.channel in RECONCILED_CHANNELS and store.api_url and store.api_secret)


def reconcile_stores() -> dict[str, int]:
    """The periodic pass (config/schedules.py): every store with API credentials, one after another."""
    done = failed = 0
    for store in Store.objects.select_related("unit").exclude(api_url="").exclude(api_secret=""):
        if not is_configured(store):
            continue
        try:
            reconcile_store(store)
            done += 1
        except ReconcileError:
            failed += 1
    return {"stores": done, "failed": failed}


def reconcile_store(store: Store, *, now: datetime | None = None) -> Pass:
    """One pass for one store; records its outcome on the store. ReconcileError when a page failed
    (the watermark then stays where it was)."""
    now = now or timezone.now()
    since = (store.reconciled_until or now - FIRST_LOOKBACK) - OVERLAP
    result = Pass()
    try:
        pages = (
            _shopify_pages(store, since)
            if store.channel == Channel.SHOPIFY
            else _woocommerce_pages(store, since)
        )
        for page in pages:
            _apply_page(store, page, result)
    except ReconcileError as error:
        logger.warning("reconciliation of store %s failed: %s", store.pk, error.code)
        Store.objects.filter(pk=store.pk).update(reconciled_at=now, reconcile_result={"error": error.code})
        raise
    watermark = max(filter(None, [store.reconciled_until, result.newest]), default=None)
    summary = {"fetched": result.fetched, "recovered": result.recovered, "rejected": result.rejected}
    Store.objects.filter(pk=store.pk).update(
        reconciled_until=watermark, reconciled_at=now, reconcile_result=summary
    )
    store.reconciled_until, store.reconciled_at, store.reconcile_result = watermark, now, summary
    return result


def _apply_page(store: Store, orders: list[dict[str, Any]], result: Pass) -> None:
    convert = shopify_order if store.channel == Channel.SHOPIFY else woocommerce_order
    newest: dict[str, OrderRecord] = {}
    for data in orders:
        result.fetched += 1
        try:
            record = convert(data, store.source)
        except (RowRejected, ValueError, TypeError, AttributeError):
            result.rejected += 1  # a retry cannot fix it; the webhook path records the same rejection
            continue
        held = newest.get(record.external_id)
        if held is None or (record.source_updated_at or datetime.min.replace(tzinfo=UTC)) > (
            held.source_updated_at or datetime.min.replace(tzinfo=UTC)
        ):
            newest[record.external_id] = record
    if not newest:
        return
    outcomes = apply_orders(store, list(newest.values()))
    result.recovered += sum(1 for outcome in outcomes if outcome.status in ("created", "updated"))
    stamps = [record.source_updated_at for record in newest.values() if record.source_updated_at]
    if stamps:
        result.newest = max([*stamps, *([result.newest] if result.newest else [])])


def _shopify_pages(store: Store, since: datetime):
    query = urlencode(
        {"updated_at_min": since.astimezone(UTC).isoformat(), "status": "any", "limit": PAGE_SIZE}
    )
    url: str | None = f"{_base(store)}/admin/api/{SHOPIFY_API_VERSION}/orders.json?{query}"
    headers = {"X-Shopify-Access-Token": store.api_secret}
    for _page in range(MAX_PAGES):
        if url is None:
            return
        body, response_headers = _get(url, headers, same_origin_as=store.api_url)
        yield _list(body, "orders")
        url = _next_link(response_headers.get("Link", ""))


def _woocommerce_pages(store: Store, since: datetime):
    credentials = base64.b64encode(f"{store.api_key}:{store.api_secret}".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}"}
    modified = since.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    page, pages = 1, 1
    while page <= min(pages, MAX_PAGES):
        query = urlencode(
            {
                "modified_after": modified,
                "dates_are_gmt": "true",
                "per_page": PAGE_SIZE,
                "page": page,
                "orderby": "id",
                "order": "asc",
            }
        )
        body, response_headers = _get(
            f"{_base(store)}/wp-json/wc/v3/orders?{query}", headers, same_origin_as=store.api_url
        )
        yield _list(body, None)
        try:
            pages = int(response_headers.get("X-WP-TotalPages") or 1)
        except ValueError:
            raise ReconcileError("bad_response") from None
        page += 1


def _base(store: Store) -> str:
    return store.api_url.rstrip("/")


def _list(body: bytes, key: str | None) -> list[dict[str, Any]]:
    try:
        data = json.loads(body)
    except ValueError:
        raise ReconcileError("bad_response") from None
    items = data.get(key) if key and isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ReconcileError("bad_response")
    return [item for item in items if isinstance(item, dict)]


LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _next_link(header: str) -> str | None:
    match = LINK_NEXT.search(header)
    return match.group(1) if match else None


# One client per process: keep-alive to the shops, and it connects to the address it checked (never
# resolving the name again, so DNS rebinding cannot turn a shop's name into an inside address) and
# follows no redirect (a 302 could point anywhere).
_CLIENT = outbound.Client()


def _get(url: str, headers: dict[str, str], *, same_origin_as: str) -> tuple[bytes, Any]:
    # Pagination links come from the platform's answer: they may only point at the shop itself.
    if urlsplit(url).netloc != urlsplit(same_origin_as).netloc:
        raise ReconcileError("foreign_link")
    try:
        response = _CLIENT.request("GET", url, headers={**headers, "Accept": "application/json"})
    except outbound.BlockedError:
        raise ReconcileError("blocked_address") from None
    except (outbound.NotSentError, outbound.MaybeSentError):
        raise ReconcileError("unreachable") from None
    if response.status >= 300:
        raise ReconcileError(f"http_{response.status}")
    return response.body, response.headers


def check_address(url: str) -> None:
    """Refuse addresses that are not public, by the outbound rule every app uses (guanxi.core.outbound,
    reliability.md AC-5); the error names what the store's page says."""
    try:
        outbound.check_url(url)
    except outbound.BlockedError:
        raise ReconcileError("blocked_address") from None
    except outbound.NotSentError:
        raise ReconcileError("unreachable") from None
