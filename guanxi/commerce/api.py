"""Order endpoints, and the ingestion API for orders and behavioural events."""

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Header, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field, SkipValidation

from guanxi.api.pagination import CursorParams, paginate
from guanxi.api.schemas import Amount, AwareDatetime, ProblemFieldError
from guanxi.commerce import ingestion
from guanxi.commerce.models import Channel, Order
from guanxi.core.access import require

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
