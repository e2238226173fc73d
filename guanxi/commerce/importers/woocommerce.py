"""WooCommerce orders (REST API v3 JSON: exports of `/wp-json/wc/v3/orders`, webhook bodies).

Times are taken from the `_gmt` fields (UTC). Status: pending/on-hold/checkout-draft → created,
processing → paid, completed → completed, cancelled → cancelled, refunded → refunded, failed and
trash → closed. Refunds (negative totals) become returns against the order. A registered
buyer's `customer_id` is an identity in the store's namespace; 0 means a guest, who is still
recognised by billing email or phone.
"""

import html
from datetime import UTC
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from guanxi.commerce.importers.base import ImportContext
from guanxi.commerce.importers.platform import OrderRecordPreset, RowRejected, parse_datetime, parse_decimal
from guanxi.commerce.importers.reading import JSON_COLUMN
from guanxi.commerce.importers.shopify import json_record, text_of
from guanxi.commerce.models import Channel, Order
from guanxi.commerce.phrases import MISSING_DATE, MISSING_ID, UNKNOWN_STATUS
from guanxi.commerce.records import LineRecord, OrderRecord, PersonRecord, RefundRecord
from guanxi.core.money import round_money
from guanxi.customers.models import Identity

DEFAULT_SOURCE = "woocommerce"
STATUSES = {
    "pending": Order.Status.CREATED,
    "on-hold": Order.Status.CREATED,
    "checkout-draft": Order.Status.CREATED,
    "processing": Order.Status.PAID,
    "completed": Order.Status.COMPLETED,
    "cancelled": Order.Status.CANCELLED,
    "refunded": Order.Status.REFUNDED,
    "failed": Order.Status.CLOSED,
    "trash": Order.Status.CLOSED,
}
MOBILE_AGENTS = ("mobile", "android", "iphone", "ipad")


def _time(data: dict[str, Any], name: str) -> Any:
    # The _gmt twin is UTC; the plain field is the shop's local time (unknown here), so last resort.
    return parse_datetime(data.get(f"{name}_gmt") or data.get(name), name, UTC)


def woocommerce_person(data: dict[str, Any], source: str) -> PersonRecord | None:
    billing = data.get("billing") or {}
    person = PersonRecord()
    customer_id = text_of(data.get("customer_id"))
    if customer_id not in ("", "0"):
        person.add(Identity.Kind.WOOCOMMERCE_ID, customer_id, namespace=source)
    person.add(Identity.Kind.EMAIL, billing.get("email"))
    person.add(
        Identity.Kind.PHONE, billing.get("phone"), region=text_of(billing.get("country")).upper() or None
    )
    name = " ".join(
        part for part in (text_of(billing.get("first_name")), text_of(billing.get("last_name"))) if part
    )
    if name:
        person.profile["name"] = name[:100]
    for field, key in (("city", "city"), ("province", "state")):
        if text_of(billing.get(key)):
            person.profile[field] = text_of(billing.get(key))[:32]
    person.profile["source_channel"] = Channel.WOOCOMMERCE
    return None if person.is_empty else person


def woocommerce_order(data: dict[str, Any], source: str) -> OrderRecord:
    external_id = text_of(data.get("id"))
    if not external_id:
        raise RowRejected("id", "", MISSING_ID())
    placed_at = _time(data, "date_created")
    if placed_at is None:
        raise RowRejected("date_created", "", MISSING_DATE())
    raw_status = text_of(data.get("status")).lower()
    if raw_status not in STATUSES:
        raise RowRejected("status", raw_status, UNKNOWN_STATUS(status=raw_status))
    updated_at = _time(data, "date_modified")
    lines = []
    for position, item in enumerate(data.get("line_items") or []):
        quantity = int(parse_decimal(item.get("quantity"), "line_items.quantity"))
        amount = parse_decimal(item.get("total"), "line_items.total")
        price = parse_decimal(item.get("price"), "line_items.price", required=False)
        lines.append(
            LineRecord(
                line_no=int(item.get("id") or position + 1),
                sku=text_of(item.get("sku")),
                name=html.unescape(text_of(item.get("name"))),
                quantity=quantity,
                unit_price=round_money(price),
                amount=round_money(amount),
            )
        )
    refunds = [
        RefundRecord(
            external_id=text_of(refund.get("id")),
            amount=-parse_decimal(refund.get("total"), "refunds.total"),
            refunded_at=updated_at or placed_at,
            reason=html.unescape(text_of(refund.get("reason"))),
        )
        for refund in data.get("refunds") or []
    ]
    device = Order.Device.UNKNOWN
    agent = text_of(data.get("customer_user_agent")).lower()
    if agent:
        device = Order.Device.MOBILE if any(word in agent for word in MOBILE_AGENTS) else Order.Device.PC
    return OrderRecord(
        external_id=external_id,
        number=text_of(data.get("number")) or external_id,
        status=STATUSES[raw_status],
        placed_at=placed_at,
        paid_at=_time(data, "date_paid"),
        total_amount=parse_decimal(data.get("total"), "total"),
        refunded_amount=sum((refund.amount for refund in refunds), start=Decimal("0.00")),
        currency=text_of(data.get("currency")) or "USD",
        device=device,
        source_updated_at=updated_at,
        attributes={
            key: data.get(key)
            for key in ("status", "created_via", "payment_method")
            if data.get(key) not in (None, "")
        },
        lines=lines,
        refunds=refunds,
        person=woocommerce_person(data, source),
    )


class WooCommerceOrdersPreset(OrderRecordPreset):
    kind = "woocommerce_orders"
    label = _("WooCommerce orders (JSON)")
    columns = {"record": (JSON_COLUMN,)}
    required = frozenset({"record"})
    channel = Channel.WOOCOMMERCE
    default_source = DEFAULT_SOURCE
    store_name = _("WooCommerce store")
    currency = "USD"

    def convert(self, cells: list[str], context: ImportContext) -> OrderRecord:
        return woocommerce_order(json_record(cells), context.state["source"])
