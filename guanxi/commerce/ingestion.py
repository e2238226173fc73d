"""The generic ingestion API's batches: validate each item, scope it, write the valid ones.

Items are validated one by one, so one bad item is rejected with its field paths while the
others are written. Stores are named by their source and must be in the caller's business
units (an unknown store and another unit's store get the same answer). A batch sent with an
`Idempotency-Key` stores its response; the same key with the same body replays it, and with a
different body is a conflict.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Annotated, Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from guanxi.api.schemas import AwareDatetime
from guanxi.commerce.actions import apply_orders, record_events
from guanxi.commerce.models import Event, IdempotencyRecord, Order, Store
from guanxi.commerce.records import EventRecord, LineRecord, OrderRecord, Outcome, PersonRecord
from guanxi.customers.models import Identity

MAX_BATCH = 1_000
# Identity kinds whose values are only unique within one platform store.
STORE_SCOPED_KINDS = frozenset(
    {
        Identity.Kind.TAOBAO_NICK,
        Identity.Kind.TAOBAO_OAID,
        Identity.Kind.SHOPIFY_ID,
        Identity.Kind.WOOCOMMERCE_ID,
        Identity.Kind.EXTERNAL_ID,
    }
)
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentityIn(Strict):
    kind: Identity.Kind
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    namespace: Text = Field(
        "", description="For store-scoped kinds (taobao_nick, shopify_id…) the store source by default."
    )


class CustomerIn(Strict):
    identities: list[IdentityIn] = Field(
        default_factory=list,
        max_length=20,
        description="Masked (138****5678) or placeholder values are never identities; masked ones are kept as hints.",
    )
    name: Text = ""


class LineIn(Strict):
    line_no: int | None = Field(
        None, ge=0, description="The line's id at the source; its position by default."
    )
    sku: Annotated[str, StringConstraints(max_length=64)] = ""
    name: Text
    category: Annotated[str, StringConstraints(max_length=64)] = ""
    quantity: int = Field(1, ge=-1_000_000, le=1_000_000)
    unit_price: Money
    amount: Money
    unit_cost: Money | None = Field(
        None,
        description="What one unit cost the merchant (cost of goods) when sold; omitted or null when "
        "unknown. Lines with a known cost make the margin report's figures.",
    )


class OrderIn(Strict):
    store: Id = Field(description="The store's source, e.g. tmall:guanxi-home.")
    external_id: Id
    number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] = ""
    status: Order.Status
    placed_at: AwareDatetime
    paid_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = Field(
        None, description="The source's last-modified time: an older update never overwrites a newer one."
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")] | None = None
    total_amount: Money
    refunded_amount: Money = Decimal("0.00")
    device: Order.Device = Order.Device.UNKNOWN
    item_count: int | None = Field(None, ge=0)
    lines: list[LineIn] = Field(default_factory=list, max_length=500)
    customer: CustomerIn | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class EventIn(Strict):
    store: Id = Field(description="The store's source, e.g. shopify:my-shop.")
    external_id: Id = Field(description="The sender's event id; a resent event is stored once.")
    kind: Event.Kind
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    occurred_at: AwareDatetime
    anonymous_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] = ""
    properties: dict[str, Any] = Field(
        default_factory=dict, description="sku, category, price, cart_id, url…"
    )
    customer: CustomerIn | None = None


ORDER_ADAPTER = TypeAdapter(OrderIn)
EVENT_ADAPTER = TypeAdapter(EventIn)
MAX_JSON_FIELD_BYTES = 16 * 1024


class IdempotencyConflictError(Exception):
    """The key was used before with another body (or on another endpoint)."""


def request_digest(endpoint: str, body: Any) -> str:
    canonical = json.dumps(
        {"endpoint": endpoint, "body": body}, sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(user: Any, key: str, endpoint: str, digest: str) -> dict | None:
    """The stored response for this key, None if the key is new; IdempotencyConflictError if reused."""
    record = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if record is None:
        return None
    if record.endpoint != endpoint or record.request_sha256 != digest:
        raise IdempotencyConflictError(key)
    return record.response


def ingest(
    user: Any,
    items: Sequence[Any],
    *,
    endpoint: str,
    idempotency_key: str | None,
    digest: str,
) -> dict:
    """Validate, scope and write a batch of orders or events; the per-item results."""
    if idempotency_key:
        stored = replay(user, idempotency_key, endpoint, digest)
        if stored is not None:
            return stored
    is_orders = endpoint == "orders"
    adapter = ORDER_ADAPTER if is_orders else EVENT_ADAPTER
    results: list[dict[str, Any] | None] = [None] * len(items)
    stores = {store.source: store for store in Store.objects.restrict(user, "add").select_related("unit")}
    valid: dict[int, list[tuple[int, Any]]] = {}
    seen: set[tuple[int, str]] = set()
    for index, raw in enumerate(items):
        try:
            item = adapter.validate_python(raw)
        except PydanticValidationError as error:
            results[index] = _rejected(index, [_field_error(e) for e in error.errors()])
            continue
        errors = _check(item, stores)
        store = stores.get(item.store)
        # An unknown store (None) is always among the errors _check reports.
        if errors or store is None:
            results[index] = _rejected(index, errors)
            continue
        if (store.pk, item.external_id) in seen:
            duplicate = {
                "loc": ["external_id"],
                "msg": _("Appears earlier in this batch."),
                "type": "duplicate",
            }
            results[index] = _rejected(index, [duplicate])
            continue
        seen.add((store.pk, item.external_id))
        valid.setdefault(store.pk, []).append((index, item))
    write: Callable[[Store, list, Any], list[Outcome]] = _write_orders if is_orders else _write_events
    try:
        with transaction.atomic():
            for store_pk, entries in valid.items():
                store = next(store for store in stores.values() if store.pk == store_pk)
                for (index, _item), outcome in zip(
                    entries, write(store, [item for _i, item in entries], user), strict=True
                ):
                    results[index] = {
                        "index": index,
                        "status": outcome.status,
                        "id": outcome.id,
                        "errors": [],
                    }
            response = {"results": results}
            if idempotency_key:
                with transaction.atomic():
                    IdempotencyRecord.objects.create(
                        user=user,
                        key=idempotency_key,
                        endpoint=endpoint,
                        request_sha256=digest,
                        response=response,
                    )
    except IntegrityError:
        # A concurrent request with the same key committed first: ours is rolled back, theirs stands.
        if not idempotency_key:
            raise
        stored = replay(user, idempotency_key, endpoint, digest)
        if stored is None:
            raise
        return stored
    return response


def _rejected(index: int, errors: list[dict]) -> dict:
    return {"index": index, "status": "rejected", "id": None, "errors": errors}


def _field_error(error: Any) -> dict:
    return {
        "loc": [part for part in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
        "type": error.get("type", ""),
    }


def _check(item: Any, stores: dict[str, Store]) -> list[dict]:
    errors = []
    if item.store not in stores:
        errors.append(
            {"loc": ["store"], "msg": _("No such store in your business units."), "type": "unknown_store"}
        )
    blobs = {"properties": getattr(item, "properties", None), "attributes": getattr(item, "attributes", None)}
    line_numbers = [line.line_no for line in getattr(item, "lines", []) if line.line_no is not None]
    if len(set(line_numbers)) != len(line_numbers):
        errors.append({"loc": ["lines"], "msg": _("Two lines have the same line_no."), "type": "duplicate"})
    for name, blob in blobs.items():
        if blob and len(json.dumps(blob, default=str)) > MAX_JSON_FIELD_BYTES:
            errors.append({"loc": [name], "msg": _("Too large (16 KB at most)."), "type": "too_large"})
    return errors


def _person(customer: CustomerIn | None, store: Store) -> PersonRecord | None:
    if customer is None:
        return None
    person = PersonRecord()
    for identity in customer.identities:
        namespace = identity.namespace or (store.source if identity.kind in STORE_SCOPED_KINDS else "")
        person.add(identity.kind, identity.value, namespace=namespace)
    if customer.name:
        person.profile["name"] = customer.name[:100]
    person.profile["source_channel"] = store.channel
    return None if person.is_empty else person


def _write_orders(store: Store, items: list[OrderIn], user: Any) -> list[Outcome]:
    records = [
        OrderRecord(
            external_id=item.external_id,
            number=item.number or item.external_id,
            status=item.status,
            placed_at=item.placed_at,
            paid_at=item.paid_at,
            source_updated_at=item.updated_at,
            total_amount=item.total_amount,
            refunded_amount=item.refunded_amount,
            currency=(item.currency or store.currency).upper(),
            device=item.device,
            item_count=item.item_count,
            attributes=item.attributes,
            lines=[
                LineRecord(
                    line_no=line.line_no if line.line_no is not None else position + 1,
                    sku=line.sku,
                    name=line.name,
                    category=line.category,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    amount=line.amount,
                    unit_cost=line.unit_cost,
                )
                for position, line in enumerate(item.lines)
            ],
            person=_person(item.customer, store),
        )
        for item in items
    ]
    return apply_orders(store, records, actor=user)


def _write_events(store: Store, items: list[EventIn], user: Any) -> list[Outcome]:
    records = [
        EventRecord(
            external_id=item.external_id,
            kind=item.kind,
            name=item.name,
            occurred_at=item.occurred_at,
            anonymous_id=item.anonymous_id,
            properties=item.properties,
            person=_person(item.customer, store),
        )
        for item in items
    ]
    return record_events(store, records, actor=user)
