"""Order endpoints, the ingestion API for orders and behavioural events, and the stores (adding and
setting one up, its webhook secret)."""

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Header, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field, SkipValidation

from guanxi.accounts.models import BusinessUnit
from guanxi.api.pagination import CursorParams, paginate
from guanxi.api.schemas import Amount, AwareDatetime, ProblemFieldError
from guanxi.commerce import actions, ingestion
from guanxi.commerce.models import Channel, Order, Store
from guanxi.commerce.webhooks import MIN_SECRET_LENGTH, new_webhook_secret, webhook_path, webhook_url
from guanxi.core.access import require
from guanxi.core.zones import DEFAULT_TIME_ZONE

router = Router(tags=["orders"])


class StoreOut(Schema):
    id: int
    name: str
    channel: Channel


class OrderOut(Schema):
    id: int
    number: str
    unit_id: int
    store: StoreOut
    customer_id: int | None
    status: Order.Status
    device: Order.Device
    currency: str
    total_amount: Amount
    refunded_amount: Amount
    item_count: int
    placed_at: datetime
    paid_at: datetime | None


class OrderLineOut(Schema):
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: Amount
    amount: Amount


class OrderDetailOut(OrderOut):
    lines: list[OrderLineOut]


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: str | None


class OrderListParams(CursorParams):
    store: int | None = Field(None, description="Only orders of this store id.")
    status: Order.Status | None = None
    placed_after: AwareDatetime | None = Field(None, description="Placed at or after this time (ISO 8601).")
    placed_before: AwareDatetime | None = Field(
        None, description="Placed strictly before this time (ISO 8601)."
    )


@router.get("/orders", response=OrderPage, summary="Orders the caller may see, newest first")
def list_orders(request, params: Query[OrderListParams]):
    orders = Order.objects.restrict(request.user, "view").select_related("store")
    if params.store is not None:
        orders = orders.filter(store_id=params.store)
    if params.status is not None:
        orders = orders.filter(status=params.status)
    if params.placed_after is not None:
        orders = orders.filter(placed_at__gte=params.placed_after)
    if params.placed_before is not None:
        orders = orders.filter(placed_at__lt=params.placed_before)
    page = paginate(orders, params, sort_field="placed_at", descending=True)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/orders/{order_id}", response=OrderDetailOut, summary="One order with its lines")
def get_order(request, order_id: int):
    order = get_object_or_404(
        Order.objects.restrict(request.user, "view").select_related("store").prefetch_related("lines"),
        pk=order_id,
    )
    return order


# The orders section of a customer's detail (GET /customers/{id}, field "totals").


class StoreTotalOut(Schema):
    store_id: int
    store_name: str
    channel: str
    unit_id: int
    currency: str
    orders: int
    revenue: Amount = Field(description="Total of orders in a sale status (paid to completed).")
    refunded: Amount


class ChannelTotalOut(Schema):
    channel: str
    currency: str
    orders: int
    revenue: Amount
    refunded: Amount


class CurrencyTotalOut(Schema):
    currency: str
    orders: int
    revenue: Amount
    refunded: Amount
    returned: Amount = Field(description="Total of returns (credit notes) recorded for the customer.")


class TotalsOut(Schema):
    orders: int
    per_currency: list[CurrencyTotalOut]
    per_store: list[StoreTotalOut]
    per_channel: list[ChannelTotalOut]


class OrderBatchIn(Schema):
    # Items are validated one by one (see guanxi.commerce.ingestion), so a bad item is rejected
    # alone; the schema documents them.
    items: list[SkipValidation[ingestion.OrderIn]] = Field(
        min_length=1, description=f"Up to {ingestion.MAX_BATCH:,} orders."
    )


class EventBatchIn(Schema):
    items: list[SkipValidation[ingestion.EventIn]] = Field(
        min_length=1, description=f"Up to {ingestion.MAX_BATCH:,} events."
    )


class ItemResult(Schema):
    index: int = Field(description="Position of the item in the request.")
    status: Literal["created", "updated", "unchanged", "stale", "rejected"] = Field(
        description="stale: older (by updated_at) than what is stored, so not applied."
    )
    id: int | None
    errors: list[ProblemFieldError] = Field(description="Why the item was rejected; loc is inside the item.")


class BatchOut(Schema):
    results: list[ItemResult]


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Resending the same body with the same key replays the first response; "
        "another body with a used key is a 409 conflict.",
        max_length=200,
    ),
]


def _ingest(request, endpoint: str, items: list[Any], idempotency_key: str | None) -> Status:
    require(request, "commerce.add")
    if len(items) > ingestion.MAX_BATCH:
        raise HttpError(
            422, _("A batch holds at most %(max)s items; split it.") % {"max": f"{ingestion.MAX_BATCH:,}"}
        )
    digest = ingestion.request_digest(endpoint, json.loads(request.body))
    try:
        response = ingestion.ingest(
            request.user, items, endpoint=endpoint, idempotency_key=idempotency_key, digest=digest
        )
    except ingestion.IdempotencyConflictError:
        raise HttpError(409, _("This Idempotency-Key was already used with a different request.")) from None
    return Status(202, response)


@router.post(
    "/orders",
    response={202: BatchOut},
    summary="Create or update orders in bulk (by store and external id)",
    tags=["ingestion"],
)
def ingest_orders(request, batch: OrderBatchIn, idempotency_key: IdempotencyKey = None):
    """Each item is applied or rejected on its own: an order older (by `updated_at`) than the
    stored one is `stale` and changes nothing. Requires a read-write token and the right to add
    orders; stores outside the caller's business units are rejected per item."""
    return _ingest(request, "orders", batch.items, idempotency_key)


@router.post(
    "/events",
    response={202: BatchOut},
    summary="Record behavioural events in bulk (browse, add to cart, checkout started…)",
    tags=["ingestion"],
)
def ingest_events(request, batch: EventBatchIn, idempotency_key: IdempotencyKey = None):
    """Events are stored once per store and external id; a resent one is `unchanged`. Carts are
    events: add_to_cart, remove_from_cart and checkout_started carry the cart in `properties`."""
    return _ingest(request, "events", batch.items, idempotency_key)


# --- stores ------------------------------------------------------------------------------------


class StoreDetailOut(StoreOut):
    unit_id: int
    source: str = Field(description="The namespace of the store's external ids (e.g. shopify:home-shop).")
    currency: str
    time_zone: str
    created_at: datetime
    webhook_path: str | None = Field(description="The webhook endpoint's path; null without a connector.")
    webhook_url: str | None = Field(
        description="The address to give the platform (GUANXI_PUBLIC_URL + path); null until a public "
        "URL is configured or without a connector."
    )
    has_webhook_secret: bool
    old_secret_accepted_until: datetime | None = Field(
        description="After a rotation, until when the previous secret still signs deliveries."
    )


class StorePage(Schema):
    items: list[StoreDetailOut]
    next_cursor: str | None


class StoreIn(Schema):
    unit_id: int
    name: str = Field(min_length=1, max_length=100)
    channel: Channel
    source: str = Field(
        "",
        max_length=64,
        description="Optional; by default <channel>:<name as a slug>. It never changes once given.",
    )
    currency: str = Field("CNY", min_length=3, max_length=3)
    time_zone: str = Field(DEFAULT_TIME_ZONE, max_length=64)


class StorePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    currency: str | None = Field(None, min_length=3, max_length=3)
    time_zone: str | None = Field(None, max_length=64)


class WebhookSecretIn(Schema):
    secret: str = Field(
        "",
        max_length=200,
        description="The platform's signing secret (Shopify); empty to have one generated (WooCommerce).",
    )


class WebhookSecretOut(Schema):
    secret: str = Field(description="The new secret. Returned once: it is never shown again.")
    old_secret_accepted_until: datetime | None


def _store_out(store: Store) -> dict[str, Any]:
    return {
        "id": store.pk,
        "name": store.name,
        "channel": store.channel,
        "unit_id": store.unit_id,
        "source": store.source,
        "currency": store.currency,
        "time_zone": store.time_zone,
        "created_at": store.created_at,
        "webhook_path": webhook_path(store),
        "webhook_url": webhook_url(store),
        "has_webhook_secret": bool(store.webhook_secret),
        "old_secret_accepted_until": store.old_secret_accepted_until,
    }


@router.get("/stores", response=StorePage, summary="Stores of the caller's units", tags=["stores"])
def list_stores(request, params: Query[CursorParams]):
    page = paginate(Store.objects.restrict(request.user, "view"), params, sort_field="id")
    return {"items": [_store_out(store) for store in page.items], "next_cursor": page.next_cursor}


@router.post("/stores", response={201: StoreDetailOut}, summary="Add a store to a unit", tags=["stores"])
def create_store(request, payload: StoreIn):
    user = require(request, "commerce.add")
    unit = BusinessUnit.objects.restrict(user, "view").filter(pk=payload.unit_id, is_active=True).first()
    if unit is None:
        raise HttpError(422, _("No such active business unit among yours."))
    store = actions.create_store(unit=unit, actor=user, **payload.model_dump(exclude={"unit_id"}))
    return Status(201, _store_out(store))


@router.get("/stores/{store_id}", response=StoreDetailOut, summary="One store", tags=["stores"])
def get_store(request, store_id: int):
    return _store_out(get_object_or_404(Store.objects.restrict(request.user, "view"), pk=store_id))


@router.patch(
    "/stores/{store_id}",
    response=StoreDetailOut,
    summary="Rename a store or change its currency or time zone",
    tags=["stores"],
)
def update_store(request, store_id: int, payload: StorePatch):
    user = require(request, "commerce.change")
    store = get_object_or_404(Store.objects.restrict(user, "change"), pk=store_id)
    changes = payload.model_dump(exclude_none=True)
    if "currency" in changes:
        changes["currency"] = changes["currency"].upper()
    return _store_out(actions.update_store(store, actor=user, **changes))


@router.post(
    "/stores/{store_id}/webhook-secret",
    response=WebhookSecretOut,
    summary="Set or rotate the webhook signing secret (the previous one stays valid for an hour)",
    tags=["stores"],
)
def set_webhook_secret(request, store_id: int, payload: WebhookSecretIn):
    user = require(request, "commerce.change")
    store = get_object_or_404(Store.objects.restrict(user, "change"), pk=store_id)
    secret = payload.secret.strip()
    if secret and len(secret) < MIN_SECRET_LENGTH:
        raise HttpError(
            422, _("A pasted secret has at least %(count)d characters.") % {"count": MIN_SECRET_LENGTH}
        )
    secret = secret or new_webhook_secret()
    actions.set_webhook_secret(store, secret, actor=user)
    return {"secret": secret, "old_secret_accepted_until": store.old_secret_accepted_until}
