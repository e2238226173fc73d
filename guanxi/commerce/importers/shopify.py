"""Shopify orders and customers (REST Admin API JSON: exports, `orders.json`, webhook bodies).

The converters here serve both the file presets and the webhooks (`guanxi.commerce.webhooks`).
Status: a cancelled order is cancelled; otherwise `financial_status` decides paid or not
(pending/authorized → created, paid/partially_paid/partially_refunded → paid, refunded →
refunded, voided → cancelled) and a fulfilled paid order is shipped (completed once closed).
Shopify customer ids are namespaced by the store source; emails and phones are global.
"""

import json
from contextlib import suppress
from datetime import UTC
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from guanxi.commerce.importers.base import ImportContext, Row, RowIssue
from guanxi.commerce.importers.platform import (
    SKIPPED,
    CustomerChunk,
    OrderRecordPreset,
    PersonRecordPreset,
    RowRejected,
    dropped_value_warnings,
    parse_datetime,
    parse_decimal,
)
from guanxi.commerce.importers.reading import JSON_COLUMN
from guanxi.commerce.models import Channel, Order, Store
from guanxi.commerce.phrases import BAD_JSON, MISSING_DATE, MISSING_ID, NO_IDENTITY
from guanxi.commerce.records import LineRecord, OrderRecord, PersonRecord, RefundRecord
from guanxi.core.money import round_money
from guanxi.customers.models import Identity

DEFAULT_SOURCE = "shopify"
PAID_STATUSES = frozenset({"paid", "partially_paid", "partially_refunded"})


def json_record(cells: list[str]) -> dict[str, Any]:
    try:
        data = json.loads(cells[0])
    except (ValueError, IndexError):
        raise RowRejected(JSON_COLUMN, cells[0][:100] if cells else "", BAD_JSON()) from None
    if not isinstance(data, dict):
        raise RowRejected(JSON_COLUMN, str(data)[:100], BAD_JSON())
    return data


def text_of(value: Any) -> str:
    return "" if value is None else str(value).strip()


def shopify_status(data: dict[str, Any]) -> str:
    financial = text_of(data.get("financial_status")).lower()
    if data.get("cancelled_at"):
        return Order.Status.REFUNDED if financial == "refunded" else Order.Status.CANCELLED
    if financial == "refunded":
        return Order.Status.REFUNDED
    if financial == "voided":
        return Order.Status.CANCELLED
    if financial in PAID_STATUSES:
        if text_of(data.get("fulfillment_status")).lower() == "fulfilled":
            return Order.Status.COMPLETED if data.get("closed_at") else Order.Status.SHIPPED
        return Order.Status.PAID
    return Order.Status.CREATED


def shopify_device(data: dict[str, Any]) -> str:
    source_name = text_of(data.get("source_name")).lower()
    if source_name == "pos":
        return Order.Device.OFFLINE
    if source_name in ("iphone", "android", "shopify_mobile"):
        return Order.Device.APP
    agent = text_of((data.get("client_details") or {}).get("user_agent")).lower()
    if not agent:
        return Order.Device.UNKNOWN
    return Order.Device.MOBILE if "mobile" in agent or "android" in agent else Order.Device.PC


def shopify_person(
    customer: dict[str, Any] | None,
    source: str,
    *,
    email: Any = "",
    phone: Any = "",
    address: dict | None = None,
) -> PersonRecord | None:
    """The buyer: Shopify customer id (in the store's namespace), email and phone."""
    customer = customer or {}
    address = address or customer.get("default_address") or {}
    region = text_of(address.get("country_code")).upper() or None
    person = PersonRecord()
    person.add(Identity.Kind.SHOPIFY_ID, customer.get("id"), namespace=source)
    person.add(Identity.Kind.EMAIL, customer.get("email") or email)
    person.add(Identity.Kind.PHONE, customer.get("phone") or phone, region=region)
    name = " ".join(
        part for part in (text_of(customer.get("first_name")), text_of(customer.get("last_name"))) if part
    )
    if name:
        person.profile["name"] = name[:100]
    person.profile["source_channel"] = Channel.SHOPIFY
    created = customer.get("created_at")
    if created:
        with suppress(RowRejected):  # an unreadable signup time is not worth losing the buyer
            person.profile["first_seen_at"] = parse_datetime(created, "customer.created_at", UTC)
    return None if person.is_empty else person


def shopify_order(data: dict[str, Any], source: str) -> OrderRecord:
    """One Shopify order as an order record; RowRejected names the field that is wrong."""
    external_id = text_of(data.get("id"))
    if not external_id:
        raise RowRejected("id", "", MISSING_ID())
    placed_at = parse_datetime(data.get("processed_at") or data.get("created_at"), "created_at", UTC)
    if placed_at is None:
        raise RowRejected("created_at", "", MISSING_DATE())
    status = shopify_status(data)
    lines = []
    for position, item in enumerate(data.get("line_items") or []):
        quantity = int(parse_decimal(item.get("quantity"), "line_items.quantity"))
        price = parse_decimal(item.get("price"), "line_items.price")
        lines.append(
            LineRecord(
                line_no=int(item.get("id") or position + 1),
                sku=text_of(item.get("sku")),
                name=text_of(item.get("name") or item.get("title")),
                quantity=quantity,
                unit_price=round_money(price),
                amount=round_money(price * quantity),
            )
        )
    refunds = []
    refunded = parse_decimal(data.get("total_refunded") or "0", "total_refunded", required=False)
    for refund in data.get("refunds") or []:
        amount = sum(
            (
                parse_decimal(transaction.get("amount"), "refunds.transactions.amount")
                for transaction in refund.get("transactions") or []
                if text_of(transaction.get("kind")) == "refund"
                and text_of(transaction.get("status")) in ("", "success")
            ),
            start=Decimal("0"),
        )
        refunded_at = parse_datetime(refund.get("created_at"), "refunds.created_at", UTC) or placed_at
        refunds.append(
            RefundRecord(text_of(refund.get("id")), amount, refunded_at, text_of(refund.get("note")))
        )
    if refunds and not refunded:
        refunded = sum((refund.amount for refund in refunds), start=refunded)
    return OrderRecord(
        external_id=external_id,
        number=text_of(data.get("name")) or external_id,
        status=status,
        placed_at=placed_at,
        paid_at=placed_at if status in Order.SALE_STATUSES or refunded else None,
        total_amount=parse_decimal(data.get("total_price"), "total_price"),
        refunded_amount=refunded,
        currency=text_of(data.get("currency")) or "USD",
        device=shopify_device(data),
        source_updated_at=parse_datetime(data.get("updated_at"), "updated_at", UTC),
        attributes={
            key: data.get(key)
            for key in ("financial_status", "fulfillment_status", "source_name", "tags")
            if data.get(key) not in (None, "")
        }
        | (
            {"discount_codes": [text_of(code.get("code")) for code in data["discount_codes"]]}
            if data.get("discount_codes")
            else {}
        ),
        lines=lines,
        refunds=refunds,
        person=shopify_person(
            data.get("customer"),
            source,
            email=data.get("email") or data.get("contact_email"),
            phone=data.get("phone"),
            address=data.get("billing_address") or data.get("shipping_address"),
        ),
    )


class ShopifyOrdersPreset(OrderRecordPreset):
    kind = "shopify_orders"
    label = _("Shopify orders (JSON)")
    columns = {"record": (JSON_COLUMN,)}
    required = frozenset({"record"})
    channel = Channel.SHOPIFY
    default_source = DEFAULT_SOURCE
    store_name = _("Shopify store")
    currency = "USD"

    def convert(self, cells: list[str], context: ImportContext) -> OrderRecord:
        return shopify_order(json_record(cells), context.state["source"])


class ShopifyCustomersPreset(PersonRecordPreset):
    kind = "shopify_customers"
    label = _("Shopify customers (JSON)")
    columns = {"record": (JSON_COLUMN,)}
    required = frozenset({"record"})
    chunk_size = 500

    def begin(self, context: ImportContext) -> None:
        context.state["source"] = context.store_source or DEFAULT_SOURCE
        store = Store.objects.filter(source=context.state["source"]).first()
        if store is not None and store.unit_id != context.unit.pk:
            from guanxi.commerce.actions import StoreConflictError

            raise StoreConflictError(context.state["source"])

    def parse(self, rows: list[Row], context: ImportContext) -> CustomerChunk:
        parsed = CustomerChunk()
        for number, cells in rows:
            try:
                data = json_record(cells)
            except RowRejected as rejected:
                parsed.result.issues.append(rejected.issue(number))
                continue
            person = shopify_person(data, context.state["source"])
            if person is None or not person.keys:
                parsed.result.issues.append(
                    RowIssue(number, "id", text_of(data.get("id")), NO_IDENTITY(), SKIPPED)
                )
                continue
            parsed.people.append(person)
            parsed.result.issues.extend(dropped_value_warnings(number, person))
        return parsed
