"""Writes to stores, orders and returns. Bulk upserts are keyed on (source, external_id)."""

import itertools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cache, partial
from operator import attrgetter
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Field
from django.utils import timezone
from django.utils.text import slugify

from guanxi.commerce.models import Event, ImportMapping, Order, OrderLine, Return, Store
from guanxi.commerce.phrases import (
    API_ADDRESS_SET,
    API_CREDENTIALS_REMOVED,
    API_CREDENTIALS_SET,
    EVENTS_RECORDED,
    ORDERS_APPLIED,
    SALES_ORDER,
    STORE_CREATED,
    WEBHOOK_SECRET_REMOVED,
    WEBHOOK_SECRET_ROTATED,
    WEBHOOK_SECRET_SET,
)
from guanxi.commerce.records import EventRecord, LineRecord, OrderRecord, Outcome, PersonRecord
from guanxi.core import audit, bulk
from guanxi.core.edits import save_changes
from guanxi.core.models import AuditEntry
from guanxi.core.money import round_money
from guanxi.core.zones import DEFAULT_TIME_ZONE
from guanxi.customers.actions import add_identities, find_customers_by_identity, upsert_customers_by_identity
from guanxi.customers.changes import note_changed
from guanxi.customers.identities import IdentityKey

ORDER_UPDATE_FIELDS = [
    "store",
    "unit",
    "customer",
    "number",
    "status",
    "device",
    "currency",
    "total_amount",
    "item_count",
    "placed_at",
    "paid_at",
]
# The columns, in order, of each tuple given to upsert_order_lines.
LINE_COLUMNS = (
    "order_id",
    "line_no",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price",
    "amount",
    "unit_cost",
)
# What a line copies from its order (see OrderLine.customer), in the order of `facts_of`.
FACT_FIELDS = ("customer", "unit", "placed_at", "status")
FACT_COLUMNS = ("customer_id", "unit_id", "placed_at", "status")
STORED_LINE_COLUMNS = ("order_id", *FACT_COLUMNS, *LINE_COLUMNS[1:])
LINE_UPDATE_FIELDS = [*FACT_FIELDS, *LINE_COLUMNS[2:]]
# Rows per INSERT statement: 13 parameters each stays below SQLite's 32,766 and PostgreSQL's 65,535.
LINES_PER_STATEMENT = 500
FACT_BATCH = 500  # orders per UPDATE in copy_order_facts
RETURN_UPDATE_FIELDS = [
    "store",
    "unit",
    "customer",
    "order",
    "number",
    "currency",
    "amount",
    "quantity",
    "returned_at",
    "reason",
]


class StoreConflictError(Exception):
    """The store source already belongs to another business unit."""


def ensure_store(
    *, unit: Any, source: str, name: str, channel: str, currency: str, actor: Any = None
) -> Store:
    """The store with this source, created in `unit` the first time."""
    with transaction.atomic():
        store, created = Store.objects.get_or_create(
            source=source, defaults={"unit": unit, "name": name, "channel": channel, "currency": currency}
        )
        if store.unit_id != unit.pk:
            raise StoreConflictError(source)
        if created:
            audit.record(AuditEntry.Action.CREATE, actor=actor, obj=store, unit=unit)
    return store


def upsert_orders(orders: list[Order]) -> dict[str, int]:
    """Insert or update orders (all of one source) by external id; returns their ids by external id."""
    return _upsert_by_external_id(Order, orders, ORDER_UPDATE_FIELDS)


def upsert_returns(returns: list[Return]) -> dict[str, int]:
    """Insert or update returns (all of one source) by external id; returns their ids by external id."""
    return _upsert_by_external_id(Return, returns, RETURN_UPDATE_FIELDS)


def _upsert_by_external_id(
    model: type[Order] | type[Return], rows: list, update_fields: list[str]
) -> dict[str, int]:
    if not rows:
        return {}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            ids = _stage_upsert_models(model, rows, update_fields)
            for row in rows:
                row.pk = ids[row.external_id]
        else:
            saved = model.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["source", "external_id"],
                update_fields=update_fields,
            )
            ids = {row.external_id: row.pk for row in saved}
        note_changed(row.customer_id for row in rows)
    return ids


def _stage_upsert_models(
    model: type[Order] | type[Return], rows: list, update_fields: list[str]
) -> dict[str, int]:
    """`bulk_create(update_conflicts=True)` on PostgreSQL through a COPY, for the tens of thousands of
    orders an import writes: the ORM compiles every value of a multi-row INSERT into SQL, which
    costs several times what preparing the values does."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    getters = _db_value_getters(fields)
    values = [[value(row) for value in getters] for row in rows]
    with connection.cursor() as cursor:
        returned = bulk.stage_upsert(
            cursor,
            model._meta.db_table,
            [_column(model, field.name) for field in fields],
            values,
            conflict=("source", "external_id"),
            updates=[_column(model, name) for name in update_fields],
            returning=("external_id", "id"),
        )
    return dict(returned)


# Fields whose Python value psycopg writes as is; Django's get_db_prep_save costs several µs a value
# on these (a DecimalField quantizes through a fresh context), ten times the whole COPY of it.
COPIED_AS_IS = (
    models.CharField,
    models.IntegerField,
    models.DecimalField,
    models.DateTimeField,
    models.ForeignKey,
)


def _db_value_getters(fields: Sequence[Field]) -> list[Callable[[Any], Any]]:
    """Per field, how to read a model instance's value for COPY. Values are already what the field
    holds (instances built by this app's importers and connectors), so only other kinds of field
    (JSON) need Django's preparation; none of these models has an auto_now field to fill."""
    return [
        attrgetter(field.attname) if isinstance(field, COPIED_AS_IS) else partial(_prepared, field)
        for field in fields
    ]


def _prepared(field: Field, row: Any) -> Any:
    return field.get_db_prep_save(getattr(row, field.attname), connection)


def facts_of(order: Order) -> tuple:
    """The values its lines copy from an order, for `upsert_order_lines`."""
    return (order.customer_id, order.unit_id, order.placed_at, order.status)


def upsert_order_lines(
    lines: Sequence[tuple], facts: Mapping[int, tuple], *, orders_are_new: bool = False
) -> int:
    """Insert or update order lines, given as tuples in LINE_COLUMNS order, by (order, line_no);
    `facts` holds `facts_of(order)` by order id, copied into each line.

    `orders_are_new` says every line belongs to an order created in the current transaction,
    so none can exist yet: PostgreSQL then copies them straight into the table (should one
    exist after all, the unique constraint fails the transaction; nothing is duplicated).

    A re-import rewrites lines, never appends. Lines are the bulk of every import (hundreds of
    thousands per file) and `bulk_create` spends about 25 µs a row building model instances and
    compiling SQL, so this is the same upsert from plain tuples: multi-row INSERT … ON CONFLICT
    DO UPDATE on SQLite; on PostgreSQL, COPY into a temporary table, then one INSERT … SELECT …
    ON CONFLICT (psycopg re-parses long multi-row statements on every call).
    """
    if not lines:
        return 0
    stored = ((line[0], *facts[line[0]], *line[1:]) for line in lines)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql" and orders_are_new:
            bulk.copy_rows(cursor, OrderLine._meta.db_table, _stored_line_columns(), stored)
        elif connection.vendor == "postgresql":
            bulk.stage_upsert(
                cursor,
                OrderLine._meta.db_table,
                _stored_line_columns(),
                stored,
                conflict=LINE_CONFLICT,
                updates=[_column(OrderLine, name) for name in LINE_UPDATE_FIELDS],
            )
        else:
            batches = iter(lambda: list(itertools.islice(stored, LINES_PER_STATEMENT)), [])
            for batch in batches:
                cursor.execute(
                    _values_upsert_sql(connection.vendor, len(batch)),
                    [value for line in batch for value in line],
                )
    return len(lines)


def copy_order_facts(order_ids: Sequence[int]) -> None:
    """Copy these orders' customer, unit, time and status onto all their lines (for a change made to
    orders without rewriting their lines)."""
    quote = connection.ops.quote_name
    line, order = quote(OrderLine._meta.db_table), quote(Order._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(order_ids), FACT_BATCH):
            batch = list(order_ids[start : start + FACT_BATCH])
            cursor.execute(
                f"UPDATE {line} SET customer_id = o.customer_id, unit_id = o.unit_id, "  # noqa: S608 (names from the models)
                f"placed_at = o.placed_at, status = o.status FROM {order} AS o "
                f"WHERE o.id = {line}.order_id AND o.id IN ({', '.join(['%s'] * len(batch))})",
                batch,
            )


def _column(model: type[Order] | type[Return] | type[OrderLine], name: str) -> str:
    field = model._meta.get_field(name)
    # Only concrete fields are named here, and those always have a column.
    assert isinstance(field, Field) and field.column is not None
    return field.column


def _stored_line_columns() -> list[str]:
    return [_column(OrderLine, name.removesuffix("_id")) for name in STORED_LINE_COLUMNS]


LINE_CONFLICT = ("order_id", "line_no")


@cache
def _values_upsert_sql(vendor: str, rows: int) -> str:
    # Cached per vendor and batch size: quoting differs between databases.
    placeholders = "(" + ", ".join(["%s"] * len(STORED_LINE_COLUMNS)) + ")"
    values = ", ".join([placeholders] * rows)
    table = connection.ops.quote_name(OrderLine._meta.db_table)
    upsert = bulk.on_conflict_update(LINE_CONFLICT, [_column(OrderLine, name) for name in LINE_UPDATE_FIELDS])
    # Identifiers come from the model's metadata; every value is a bound parameter.
    return f"INSERT INTO {table} ({bulk.quoted(_stored_line_columns())}) VALUES {values} {upsert}"  # noqa: S608


# --- Connector records (file presets, webhooks, the ingestion API) ---------------------------

PLATFORM_ORDER_UPDATE_FIELDS = [*ORDER_UPDATE_FIELDS, "refunded_amount", "source_updated_at", "attributes"]
# Order fields compared to tell an update from a replay of what we already hold.
COMPARED_ORDER_FIELDS = (
    "customer_id",
    "number",
    "status",
    "device",
    "currency",
    "total_amount",
    "refunded_amount",
    "item_count",
    "placed_at",
    "paid_at",
    "source_updated_at",
    "attributes",
)


@dataclass
class ResolvedPeople:
    """Customer id per record position (None for guests); how many customers were created."""

    ids: list[int | None]
    created: int = 0


def resolve_people(
    people: Sequence[PersonRecord | None], *, unit: Any, source: str, actor: Any = None, dry_run: bool = False
) -> ResolvedPeople:
    """Find or create the customer of each record: any strong identity already known decides.

    Records of one batch that share an identity become one customer. Identities a record brings
    that the customer lacks are added to it; masked values become identity hints (never identities).
    In a dry run nothing is written and unknown people resolve to None (counted in `created`).
    """
    wanted = {key for person in people if person is not None for key in person.keys}
    known = find_customers_by_identity(wanted)
    anchors: list[IdentityKey | None] = []
    batch_anchor: dict[IdentityKey, IdentityKey] = {}
    profiles: dict[IdentityKey, dict[str, Any]] = {}
    for person in people:
        if person is None or not person.keys:
            anchors.append(None)
            continue
        anchor = next((key for key in person.keys if key in known), None)
        if anchor is None:
            anchor = next((batch_anchor[key] for key in person.keys if key in batch_anchor), person.keys[0])
            for key in person.keys:
                batch_anchor.setdefault(key, anchor)
        anchors.append(anchor)
        profiles.setdefault(anchor, dict(person.profile))
    if dry_run:
        new = {anchor for anchor in profiles if anchor not in known}
        return ResolvedPeople([known.get(anchor) if anchor else None for anchor in anchors], len(new))
    with transaction.atomic():
        resolved = upsert_customers_by_identity(profiles, unit=unit, source=source, actor=actor)
        ids = [resolved.ids.get(anchor) if anchor else None for anchor in anchors]
        _add_identities(people, ids, known, source)
    return ResolvedPeople(ids, resolved.created)


def _add_identities(
    people: Sequence[PersonRecord | None], ids: list[int | None], known: dict, source: str
) -> None:
    """The identities each record brings that no customer holds yet, and its masked values as hints."""
    identities: dict[IdentityKey, int] = {}
    hints: set[tuple[int, str, str]] = set()
    for person, customer_id in zip(people, ids, strict=True):
        if person is None or customer_id is None:
            continue
        for key in person.keys:
            if key not in known:
                identities.setdefault(key, customer_id)
        hints.update((customer_id, kind, value) for kind, value in person.hints)
    add_identities(identities, hints, source=source)


def apply_orders(
    store: Store,
    records: Sequence[OrderRecord],
    *,
    actor: Any = None,
    dry_run: bool = False,
    stats: Counter | None = None,
) -> list[Outcome]:
    """Create or update the store's orders from platform records, one outcome per record.

    A record older than the stored order (by `source_updated_at`) is `stale` and changes nothing;
    one identical to it is `unchanged`. Lines are replaced by the record's lines; refunds upsert
    as returns. Records of one call must have distinct external ids.
    """
    external_ids = [record.external_id for record in records]
    if len(set(external_ids)) != len(external_ids):
        raise ValueError("Duplicate external ids in one batch")
    existing = {
        row["external_id"]: row
        for row in Order.objects.filter(source=store.source, external_id__in=external_ids).values(
            "pk", "external_id", *COMPARED_ORDER_FIELDS
        )
    }
    existing_lines: dict[int, set[tuple]] = {}
    for line in OrderLine.objects.filter(order_id__in=[row["pk"] for row in existing.values()]).values_list(
        *LINE_COLUMNS
    ):
        existing_lines.setdefault(line[0], set()).add(line[1:])
    with transaction.atomic():
        people = resolve_people(
            [record.person for record in records],
            unit=store.unit,
            source=store.source,
            actor=actor,
            dry_run=dry_run,
        )
        if stats is not None:
            stats["customers_created"] += people.created
        outcomes: list[Outcome] = []
        changed: list[tuple[OrderRecord, Order]] = []
        for record, customer_id in zip(records, people.ids, strict=True):
            before = existing.get(record.external_id)
            if (
                before is not None
                and before["source_updated_at"] is not None
                and record.source_updated_at is not None
                and record.source_updated_at < before["source_updated_at"]
            ):
                outcomes.append(Outcome("stale", before["pk"]))
                continue
            order = _order_from(store, record, customer_id or (before or {}).get("customer_id"))
            if before is not None and _same_order(
                order, before, record, existing_lines.get(before["pk"], set())
            ):
                outcomes.append(Outcome("unchanged", before["pk"]))
                continue
            outcomes.append(Outcome("updated" if before else "created", before["pk"] if before else None))
            changed.append((record, order))
        if dry_run or not changed:
            return outcomes
        ids = _upsert_platform_orders([order for _record, order in changed])
        _replace_lines(changed, ids)
        _upsert_refunds(store, changed, ids)
        created = sum(1 for outcome in outcomes if outcome.status == "created")
        audit.record(
            AuditEntry.Action.IMPORT,
            actor=actor,
            unit=store.unit,
            object_type="commerce.order",
            message=ORDERS_APPLIED(source=store.source, created=created, updated=len(changed) - created),
        )
    by_id = {record.external_id: ids[record.external_id] for record, _order in changed}
    return [
        Outcome(outcome.status, outcome.id or by_id.get(record.external_id))
        for outcome, record in zip(outcomes, records, strict=True)
    ]


def _order_from(store: Store, record: OrderRecord, customer_id: int | None) -> Order:
    return Order(
        store=store,
        unit_id=store.unit_id,
        customer_id=customer_id,
        source=store.source,
        external_id=record.external_id[:128],
        number=(record.number or record.external_id)[:128],
        status=record.status,
        device=record.device,
        currency=record.currency.upper()[:3],
        total_amount=round_money(record.total_amount),
        refunded_amount=round_money(record.refunded_amount),
        item_count=record.items,
        placed_at=record.placed_at,
        paid_at=record.paid_at,
        source_updated_at=record.source_updated_at,
        attributes=record.attributes,
    )


def _same_order(order: Order, before: dict, record: OrderRecord, lines: set[tuple]) -> bool:
    if any(getattr(order, name) != before[name] for name in COMPARED_ORDER_FIELDS):
        return False
    wanted = {line.as_tuple(0)[1:] for line in record.lines}
    return {_comparable_line(line) for line in lines} == {_comparable_line(line) for line in wanted}


def _comparable_line(line: tuple) -> tuple:
    """A line (LINE_COLUMNS without the order) with its money rounded to the cent, to compare."""
    cost = line[7]
    return (
        *line[:5],
        round_money(line[5]),
        round_money(line[6]),
        None if cost is None else round_money(cost),
    )


def _upsert_platform_orders(orders: list[Order]) -> dict[str, int]:
    saved = Order.objects.bulk_create(
        orders,
        update_conflicts=True,
        unique_fields=["source", "external_id"],
        update_fields=PLATFORM_ORDER_UPDATE_FIELDS,
    )
    note_changed(order.customer_id for order in saved)
    return {order.external_id: order.pk for order in saved}


def _replace_lines(changed: list[tuple[OrderRecord, Order]], ids: dict[str, int]) -> None:
    tuples: list[tuple] = []
    facts: dict[int, tuple] = {}
    for record, order in changed:
        order_id = ids[order.external_id]
        kept = [line.line_no for line in record.lines]
        OrderLine.objects.filter(order_id=order_id).exclude(line_no__in=kept).delete()
        tuples.extend(line.as_tuple(order_id) for line in record.lines)
        facts[order_id] = facts_of(order)
    upsert_order_lines(tuples, facts)  # every line of a changed order is rewritten, facts included


def _upsert_refunds(store: Store, changed: list[tuple[OrderRecord, Order]], ids: dict[str, int]) -> None:
    returns = [
        Return(
            store=store,
            unit_id=store.unit_id,
            customer_id=order.customer_id,
            order_id=ids[order.external_id],
            source=store.source,
            external_id=f"refund:{refund.external_id}"[:128],
            number=refund.external_id[:128],
            currency=order.currency,
            amount=round_money(refund.amount),
            quantity=0,
            returned_at=refund.refunded_at,
            reason=refund.reason[:200],
        )
        for record, order in changed
        for refund in record.refunds
    ]
    upsert_returns(returns)


def record_events(store: Store, records: Sequence[EventRecord], *, actor: Any = None) -> list[Outcome]:
    """Store behavioural events once each (by source and external id); a resent one is unchanged."""
    external_ids = [record.external_id for record in records]
    if len(set(external_ids)) != len(external_ids):
        raise ValueError("Duplicate external ids in one batch")
    with transaction.atomic():
        existing = dict(
            Event.objects.filter(source=store.source, external_id__in=external_ids).values_list(
                "external_id", "pk"
            )
        )
        fresh = [record for record in records if record.external_id not in existing]
        people = resolve_people(
            [record.person for record in fresh], unit=store.unit, source=store.source, actor=actor
        )
        Event.objects.bulk_create(
            [
                Event(
                    store=store,
                    unit_id=store.unit_id,
                    customer_id=customer_id,
                    source=store.source,
                    external_id=record.external_id[:128],
                    kind=record.kind,
                    name=record.name[:100],
                    anonymous_id=record.anonymous_id[:128],
                    properties=record.properties,
                    occurred_at=record.occurred_at,
                )
                for record, customer_id in zip(fresh, people.ids, strict=True)
            ],
            ignore_conflicts=True,
        )
        note_changed(people.ids)
        ids = dict(
            Event.objects.filter(source=store.source, external_id__in=external_ids).values_list(
                "external_id", "pk"
            )
        )
        if fresh:
            audit.record(
                AuditEntry.Action.IMPORT,
                actor=actor,
                unit=store.unit,
                object_type="commerce.event",
                message=EVENTS_RECORDED(source=store.source, events=len(fresh)),
            )
    return [
        Outcome("unchanged" if record.external_id in existing else "created", ids.get(record.external_id))
        for record in records
    ]


def save_import_mapping(*, kind: str, name: str, mapping: dict[str, str], actor: Any = None) -> ImportMapping:
    """Create or replace the saved column mapping `name` for import `kind`."""
    with transaction.atomic():
        saved, created = ImportMapping.objects.update_or_create(
            kind=kind,
            name=name,
            defaults={
                "mapping": dict(mapping),
                "created_by": actor if getattr(actor, "is_authenticated", False) else None,
            },
        )
        audit.record(
            AuditEntry.Action.CREATE if created else AuditEntry.Action.UPDATE, actor=actor, obj=saved
        )
    return saved


# --- stores -------------------------------------------------------------------------------------

STORE_FIELDS = ("name", "currency", "time_zone")
# How long the secret a rotation replaced still signs deliveries: Shopify takes up to an hour to sign
# with a new app secret (shared/reliability.md §1), and a delivery signed with the old one must not
# be lost meanwhile.
SECRET_ROTATION_GRACE = timedelta(hours=1)


@transaction.atomic
def create_store(
    *,
    unit: Any,
    name: str,
    channel: str,
    source: str = "",
    currency: str = "CNY",
    time_zone: str = DEFAULT_TIME_ZONE,
    actor: Any = None,
) -> Store:
    """A new store of `unit`. `source` (the namespace of its records' external ids) defaults to
    "<channel>:<slug of the name>", numbered when taken; a source, once given, never changes."""
    store = Store(
        unit=unit,
        name=name.strip(),
        channel=channel,
        source=source.strip() or _free_source(channel, name),
        currency=currency.strip().upper(),
        time_zone=time_zone,
    )
    store.full_clean()
    store.save()
    audit.record(
        AuditEntry.Action.CREATE,
        actor=actor,
        obj=store,
        unit=unit,
        message=STORE_CREATED(
            channel=channel, source=store.source, currency=store.currency, time_zone=store.time_zone
        ),
    )
    return store


def _free_source(channel: str, name: str) -> str:
    base = f"{channel}:{slugify(name, allow_unicode=False) or 'store'}"[:60]
    taken = set(Store.objects.filter(source__startswith=base).values_list("source", flat=True))
    candidates = itertools.chain([base], (f"{base}-{number}" for number in itertools.count(2)))
    return next(candidate for candidate in candidates if candidate not in taken)


def update_store(store: Store, *, actor: Any = None, **fields: Any) -> Store:
    """Rename the store or change its currency or time zone; its unit, channel and source stay."""
    return save_changes(store, fields, editable=STORE_FIELDS, actor=actor, unit=store.unit)


def set_webhook_secret(store: Store, secret: str, *, actor: Any = None) -> None:
    """Set the secret that signs the store's webhooks; the audit entry names the change, not the value.

    Replacing a secret is a rotation: the old one still signs deliveries for SECRET_ROTATION_GRACE,
    while the platform starts signing with the new one. An empty secret removes both."""
    with transaction.atomic():
        locked = Store.objects.select_for_update().get(pk=store.pk)
        old = locked.webhook_secret
        if secret and old and old != secret:
            previous, until = old, timezone.now() + SECRET_ROTATION_GRACE
            message = WEBHOOK_SECRET_ROTATED(until=until.isoformat())
        else:
            previous, until = "", None
            message = WEBHOOK_SECRET_SET() if secret else WEBHOOK_SECRET_REMOVED()
        Store.objects.filter(pk=store.pk).update(
            webhook_secret=secret, previous_webhook_secret=previous, previous_secret_until=until
        )
        store.webhook_secret, store.previous_webhook_secret, store.previous_secret_until = (
            secret,
            previous,
            until,
        )
        audit.record(AuditEntry.Action.UPDATE, actor=actor, obj=store, unit=store.unit, message=message)


def set_api_credentials(
    store: Store, *, api_url: str, api_key: str, secret: str | None, actor: Any = None
) -> None:
    """Set the platform REST API the reconciliation job polls (guanxi.commerce.reconcile). `secret`
    (Shopify access token, WooCommerce consumer secret) is kept like the webhook secret: never shown
    or audited; None keeps the one held. An empty address removes the connection."""
    with transaction.atomic():
        locked = Store.objects.select_for_update().get(pk=store.pk)
        fields: dict[str, Any]
        if not api_url:
            fields = {"api_url": "", "api_key": "", "api_secret": ""}
            message = API_CREDENTIALS_REMOVED()
        else:
            new_secret = locked.api_secret if secret is None else secret
            fields = {"api_url": api_url, "api_key": api_key, "api_secret": new_secret}
            changed = new_secret != locked.api_secret
            message = (API_CREDENTIALS_SET if changed else API_ADDRESS_SET)(address=api_url)
        if locked.api_url != fields["api_url"]:
            # Another shop's orders start from a first pass, not from the old shop's watermark.
            fields |= {"reconciled_until": None, "reconciled_at": None, "reconcile_result": {}}
        Store.objects.filter(pk=store.pk).update(**fields)
        for name, value in fields.items():
            setattr(store, name, value)
        audit.record(AuditEntry.Action.UPDATE, actor=actor, obj=store, unit=store.unit, message=message)


def record_sales_order(
    store: Store,
    *,
    external_id: str,
    number: str,
    customer_id: int | None,
    status: str,
    placed_at: Any,
    currency: str,
    lines: Sequence[LineRecord],
    attributes: dict[str, Any] | None = None,
    actor: Any = None,
) -> Order:
    """Create or update the one order a sales deal makes in `store` (keyed on its external id), through
    the same upsert as every connector, so the change feed, the order lists and analytics see it. A
    deal reopened after it was won keeps its order: pass the new status (cancelled) and it is updated.
    The total is the lines' amounts."""
    order = Order(
        store=store,
        unit_id=store.unit_id,
        customer_id=customer_id,
        source=store.source,
        external_id=external_id[:128],
        number=number[:128],
        status=status,
        device=Order.Device.OFFLINE,
        currency=currency.upper()[:3],
        total_amount=round_money(sum((line.amount for line in lines), Decimal("0"))),
        refunded_amount=Decimal("0.00"),
        item_count=sum(max(line.quantity, 0) for line in lines),
        placed_at=placed_at,
        paid_at=placed_at if status in Order.SALE_STATUSES else None,
        attributes=attributes or {},
    )
    with transaction.atomic():
        created = not Order.objects.filter(source=store.source, external_id=order.external_id).exists()
        ids = _upsert_platform_orders([order])
        order.pk = ids[order.external_id]
        OrderLine.objects.filter(order_id=order.pk).exclude(
            line_no__in=[line.line_no for line in lines]
        ).delete()
        upsert_order_lines([line.as_tuple(order.pk) for line in lines], {order.pk: facts_of(order)})
        audit.record(
            AuditEntry.Action.CREATE if created else AuditEntry.Action.UPDATE,
            actor=actor,
            obj=order,
            unit=store.unit,
            message=SALES_ORDER(status=status),
        )
    return order
