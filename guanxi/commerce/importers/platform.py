"""Presets whose rows become platform order records (Shopify, WooCommerce, Taobao, generic orders),
or person records (Shopify and generic customers).

A subclass turns one row into an `OrderRecord` (or raises `RowRejected`); this class writes each
chunk through `guanxi.commerce.actions.apply_orders`, the same path webhooks and the ingestion
API use, so a file, a webhook and an API call for one order all land on the same row. Person
records go through `resolve_people` likewise.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from guanxi.commerce.actions import apply_orders, ensure_store, resolve_people
from guanxi.commerce.importers.base import ChunkResult, ImportContext, ParsedChunk, Preset, Row, RowIssue
from guanxi.commerce.models import ImportRowError, Store
from guanxi.commerce.phrases import (
    BAD_AMOUNT,
    BAD_DATE,
    DROPPED_VALUE,
    DUPLICATE_ORDER,
    EMPTY_ROW,
    MISSING_AMOUNT,
)
from guanxi.commerce.records import OrderRecord, PersonRecord
from guanxi.core.display import Coded

SKIPPED = ImportRowError.Level.SKIPPED
WARNING = ImportRowError.Level.WARNING
MAX_AMOUNT = Decimal("1e11")


class RowRejected(Exception):  # noqa: N818 - a control-flow signal, not an error condition
    """A row cannot be imported: which column, the offending value and why."""

    def __init__(self, column: str, value: Any, reason: Coded) -> None:
        super().__init__(reason.code)
        self.column, self.value, self.reason = column, str(value), reason

    @property
    def code(self) -> str:
        return self.reason.code

    def issue(self, row: int) -> RowIssue:
        return RowIssue(row, self.column, self.value, self.reason)


def dropped_value_warnings(number: int, person: PersonRecord | None) -> list[RowIssue]:
    """One warning per value of the row that identifies nobody: the row is imported without it."""
    if person is None:
        return []
    return [
        RowIssue(number, column, value, DROPPED_VALUE[kind](kind=kind), WARNING)
        for kind, column, value in person.dropped
    ]


@dataclass
class OrderChunk(ParsedChunk):
    records: list[tuple[int, OrderRecord]] = field(default_factory=list)


class OrderRecordPreset(Preset):
    """Rows → order records → apply_orders. Subclasses set the store defaults and `convert`."""

    channel: ClassVar[str]
    default_source: ClassVar[str]
    store_name: ClassVar[Any]
    currency: ClassVar[str] = "CNY"
    chunk_size = 500
    counters: ClassVar[tuple[str, ...]] = (
        "orders_created",
        "orders_updated",
        "orders_unchanged",
        "orders_stale",
        "customers_created",
    )

    def begin(self, context: ImportContext) -> None:
        source = context.store_source or self.default_source
        context.state["source"] = source
        context.state["seen"] = set()
        store = Store.objects.filter(source=source).first()
        if store is None and not context.dry_run:
            store = ensure_store(
                unit=context.unit,
                source=source,
                name=str(self.store_name),
                channel=self.channel,
                currency=self.currency,
                actor=context.actor,
            )
        elif store is not None and store.unit_id != context.unit.pk:
            from guanxi.commerce.actions import StoreConflictError

            raise StoreConflictError(source)
        # A dry run into a store that does not exist yet looks up against an unsaved one.
        context.state["store"] = store or Store(
            unit=context.unit, source=source, name=str(self.store_name), channel=self.channel
        )

    def replay(self, rows: list[Row], context: ImportContext) -> None:
        for _number, cells in rows:
            try:
                context.state["seen"].add(self.convert(cells, context).external_id)
            except RowRejected:
                continue

    def convert(self, cells: list[str], context: ImportContext) -> OrderRecord:
        raise NotImplementedError

    def parse(self, rows: list[Row], context: ImportContext) -> OrderChunk:
        parsed = OrderChunk()
        in_chunk: set[str] = set()
        for number, cells in rows:
            if not any(cell.strip() for cell in cells):
                parsed.result.issues.append(RowIssue(number, "", "", EMPTY_ROW(), SKIPPED))
                continue
            try:
                record = self.convert(cells, context)
            except RowRejected as rejected:
                parsed.result.issues.append(rejected.issue(number))
                continue
            if record.external_id in in_chunk or record.external_id in context.state["seen"]:
                parsed.result.issues.append(
                    RowIssue(number, "", record.external_id, DUPLICATE_ORDER(), SKIPPED)
                )
                continue
            in_chunk.add(record.external_id)
            parsed.records.append((number, record))
            parsed.result.issues.extend(dropped_value_warnings(number, record.person))
        return parsed

    def write(self, parsed: OrderChunk, context: ImportContext) -> ChunkResult:
        result = parsed.result
        records = [record for _number, record in parsed.records]
        stats: Counter = Counter()
        outcomes = apply_orders(
            context.state["store"], records, actor=context.actor, dry_run=context.dry_run, stats=stats
        )
        for outcome in outcomes:
            result.counts[f"orders_{outcome.status}"] += 1
        result.counts["customers_created"] += stats["customers_created"]
        result.imported_rows += len(records)
        context.state["seen"].update(record.external_id for record in records)
        return result


@dataclass
class CustomerChunk(ParsedChunk):
    people: list[PersonRecord] = field(default_factory=list)


class PersonRecordPreset(Preset):
    """Rows → person records → resolve_people. Subclasses set `context.state["source"]` in `begin`
    and fill `CustomerChunk.people` in `parse`."""

    counters: ClassVar[tuple[str, ...]] = ("customers_created", "customers_existing")
    parse_ahead = True

    def write(self, parsed: CustomerChunk, context: ImportContext) -> ChunkResult:
        result = parsed.result
        resolved = resolve_people(
            parsed.people,
            unit=context.unit,
            source=context.state["source"],
            actor=context.actor,
            dry_run=context.dry_run,
        )
        # Every row under one outcome: it created its customer, or the customer existed already (before
        # the file, or from an earlier row of it). Counting distinct customers lost repeated rows.
        result.counts["customers_created"] += resolved.created
        result.counts["customers_existing"] += len(parsed.people) - resolved.created
        result.imported_rows += len(parsed.people)
        return result


def parse_decimal(raw: Any, column: str, *, required: bool = True) -> Decimal:
    text = str(raw if raw is not None else "").strip().replace(",", "").lstrip("¥￥$")
    if not text:
        if required:
            raise RowRejected(column, raw, MISSING_AMOUNT())
        return Decimal("0.00")
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise RowRejected(column, raw, BAD_AMOUNT()) from None
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        raise RowRejected(column, raw, BAD_AMOUNT())
    return value


def parse_datetime(
    raw: Any, column: str, default_tz: Any, *, formats: tuple[str, ...] = ()
) -> datetime | None:
    """An aware datetime, None for an empty value; naive values are in `default_tz`."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for pattern in formats:
            try:
                parsed = datetime.strptime(text, pattern)  # noqa: DTZ007 (made aware below)
                break
            except ValueError:
                continue
        else:
            raise RowRejected(column, raw, BAD_DATE()) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed
