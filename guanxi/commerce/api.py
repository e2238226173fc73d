"""Order endpoints (read-only for now)."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from pydantic import Field

from guanxi.api.pagination import CursorParams, paginate
from guanxi.api.schemas import Amount, AwareDatetime
from guanxi.commerce.models import Channel, Order

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
