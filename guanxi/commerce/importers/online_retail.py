"""The UCI "Online Retail" transaction log (one row per invoice line, UK gift-ware, 2010-12 to 2011-12).

Rules (they give the figures the data set documents: 4,372 customers, 22,064 orders of which
18,536 have a customer and 3,528 are guest orders, 3,836 returns):

- Every distinct InvoiceNo not starting with ``C`` is one order (number and external id =
  InvoiceNo), placed at its earliest InvoiceDate (UK local time, Europe/London), status completed,
  paid when placed, currency GBP. This includes invoices whose rows are all adjustments (the
  three ``A…`` bad-debt invoices, postage-only or stock-correction invoices): the invoice exists
  in the merchant's books, so the order exists, with a total of 0.00 when no product line remains.
- An order's lines are its product rows with a positive Quantity and a positive UnitPrice; the
  total is the sum of Quantity × UnitPrice over them (Decimal, rounded to the penny per line).
- Other rows of an order are skipped with a reason, never silently: adjustment stock codes (POST,
  DOT, C2, M, D, S, B, BANK CHARGES, AMAZONFEE, CRUK, PADS), every row of an ``A…`` invoice,
  and rows with a quantity or price of zero or below (stock corrections, free samples).
- Every distinct ``C…`` InvoiceNo is one return (credit note) against the row's customer (or no
  customer), for the sum of −Quantity × UnitPrice over all its rows; its quantity counts product
  rows only. Returns name no original invoice in this data, so `order` stays empty.
- An optional cost column (UnitCost, Cost, CostPrice, 成本价 or 成本: the merchant's cost of one unit)
  gives each order line its `unit_cost`; an empty cell leaves the cost unknown. A cost that is not a
  number, or is negative, rejects the row with its reason (the published file has no such column).
- A CustomerID is the identity (external_id, namespace ``online_retail``); rows without one make
  guest orders and returns. Customers are created in the caller's business unit, first seen at
  their first invoice.

Every data row ends up in exactly one bucket: imported (an order line or part of a return),
skipped (a rule above, with its code) or rejected (unreadable values, with row, column and reason).
For the published file that is 541,909 = 527,789 order lines + 9,288 return rows + 4,832 skipped
(1,336 non-positive quantity, 1,164 non-positive price, 2,329 adjustment codes, 3 bad-debt rows).
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from guanxi.commerce.actions import (
    copy_order_facts,
    ensure_store,
    facts_of,
    upsert_order_lines,
    upsert_orders,
    upsert_returns,
)
from guanxi.commerce.importers.base import ChunkResult, ImportContext, ParsedChunk, Preset, Row, RowIssue
from guanxi.commerce.models import Channel, ImportRowError, Order, Return, Store
from guanxi.commerce.phrases import (
    ADJUSTMENT_ROW,
    BAD_COST,
    BAD_CUSTOMER,
    BAD_DATE,
    BAD_DEBT_INVOICE,
    BAD_PRICE,
    BAD_QUANTITY,
    EMPTY_ROW,
    MISSING_INVOICE,
    NEGATIVE_COST,
    NON_POSITIVE_PRICE,
    NON_POSITIVE_QUANTITY,
    RETURN_QUANTITY_NOT_NEGATIVE,
)
from guanxi.core.money import round_money
from guanxi.customers.actions import find_customers_by_identity, upsert_customers_by_identity
from guanxi.customers.identities import IdentityKey, identity_key
from guanxi.customers.models import Identity

SOURCE = "online_retail"
STORE_NAME = "Online Retail (UK)"
CURRENCY = "GBP"
LONDON = ZoneInfo("Europe/London")
LOOKUP_BATCH = 500
CACHE_LIMIT = 100_000
SKIPPED = ImportRowError.Level.SKIPPED

# Stock codes that are charges, fees or corrections rather than goods: code → slug (phrases.ADJUSTMENTS
# has their words).
ADJUSTMENT_CODES = {
    "POST": "postage",
    "DOT": "dotcom_postage",
    "C2": "carriage",
    "M": "manual",
    "D": "discount",
    "S": "samples",
    "B": "bad_debt",
    "BANK CHARGES": "bank_charges",
    "AMAZONFEE": "amazon_fee",
    "CRUK": "cruk_commission",
    "PADS": "packing_pads",
}
DATE_FORMATS = ("%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M", "%Y/%m/%d %H:%M")
INTEGER = re.compile(r"^[+-]?\d{1,9}$")


@dataclass
class Draft:
    """An order or return being assembled from the rows of one chunk."""

    number: str
    placed_at: datetime
    customer_key: IdentityKey | None
    amount: Decimal = Decimal("0.00")
    quantity: int = 0
    # (line_no, sku, name, quantity, unit_price, amount, unit_cost)
    lines: list[tuple] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)


@dataclass
class RetailChunk(ParsedChunk):
    orders: dict[str, Draft] = field(default_factory=dict)
    returns: dict[str, Draft] = field(default_factory=dict)
    first_seen: dict[IdentityKey, datetime] = field(default_factory=dict)


class OnlineRetailPreset(Preset):
    kind = "online_retail"
    label = _("UCI Online Retail log (CSV)")
    columns = {
        "invoice": ("InvoiceNo", "Invoice"),
        "stock_code": ("StockCode",),
        "description": ("Description",),
        "quantity": ("Quantity",),
        "date": ("InvoiceDate",),
        "price": ("UnitPrice", "Price"),
        "customer": ("CustomerID", "Customer ID"),
        "country": ("Country",),
        "cost": ("UnitCost", "Cost", "CostPrice", "成本价", "成本"),
    }
    required = frozenset({"invoice", "stock_code", "quantity", "date", "price", "customer"})
    # Every chunk costs a score of round trips (customers, links, orders, lines, returns, the run):
    # 50,000 rows make 11 chunks of the Online Retail file, and about 50 MB of parsed rows in memory.
    chunk_size = 50_000
    parse_ahead = True
    counters = (
        "customers_created",
        "orders_created",
        "orders_existing",
        "returns_created",
        "returns_existing",
        "order_lines",
    )

    def begin(self, context: ImportContext) -> None:
        source = context.store_source or SOURCE
        context.state["source"] = source
        context.state["dates"] = {}
        context.state["quantities"] = {}
        context.state["prices"] = {}
        context.state["amounts"] = {}
        context.state["seen_orders"] = set()
        context.state["seen_returns"] = set()
        context.state["would_create_customers"] = set()
        if context.dry_run:
            context.state["store"] = Store.objects.filter(source=source).first()
        else:
            context.state["store"] = ensure_store(
                unit=context.unit,
                source=source,
                name=STORE_NAME,
                channel=Channel.OWN_SITE,
                currency=CURRENCY,
                actor=context.actor,
            )

    def replay(self, rows: list[Row], context: ImportContext) -> None:
        i_invoice, i_customer = context.columns["invoice"], context.columns["customer"]
        customers: set[IdentityKey] = set()
        for _number, cells in rows:
            invoice = cells[i_invoice].strip()
            seen = "seen_returns" if invoice.startswith("C") else "seen_orders"
            context.state[seen].add(invoice)
            key = identity_key(Identity.Kind.EXTERNAL_ID, cells[i_customer], namespace=SOURCE)
            if key is not None:
                customers.add(key)
        if context.dry_run:
            # A dry run wrote no customers, so those its first chunks counted are still unknown.
            known = find_customers_by_identity(customers)
            context.state["would_create_customers"].update(customers - known.keys())

    def parse(self, rows: list[Row], context: ImportContext) -> "RetailChunk":
        parsed = RetailChunk()
        self._parse(rows, context, parsed.result, parsed.orders, parsed.returns, parsed.first_seen)
        return parsed

    def write(self, parsed: "RetailChunk", context: ImportContext) -> ChunkResult:
        result, orders, returns = parsed.result, parsed.orders, parsed.returns
        customer_ids = self._resolve_customers(parsed.first_seen, context, result)
        state = context.state
        store: Store | None = state["store"]
        order_existing = _existing(Order, state["source"], orders)
        return_existing = _existing(Return, state["source"], returns)
        result.counts["orders_created"] += sum(
            1 for key in orders if key not in order_existing and key not in state["seen_orders"]
        )
        result.counts["orders_existing"] += sum(
            1 for key in orders if key in order_existing and key not in state["seen_orders"]
        )
        result.counts["returns_created"] += sum(
            1 for key in returns if key not in return_existing and key not in state["seen_returns"]
        )
        result.counts["returns_existing"] += sum(
            1 for key in returns if key in return_existing and key not in state["seen_returns"]
        )
        result.counts["order_lines"] += sum(len(draft.lines) for draft in orders.values())
        if not context.dry_run and store is not None:
            self._write_orders(orders, order_existing, customer_ids, store, state)
            self._write_returns(returns, return_existing, customer_ids, store, state)
        state["seen_orders"].update(orders)
        state["seen_returns"].update(returns)
        return result

    def _parse(
        self,
        rows: list[Row],
        context: ImportContext,
        result: ChunkResult,
        orders: dict[str, Draft],
        returns: dict[str, Draft],
        first_seen: dict[IdentityKey, datetime],
    ) -> None:
        columns = context.columns
        i_invoice, i_code, i_quantity = columns["invoice"], columns["stock_code"], columns["quantity"]
        i_date, i_price, i_customer = columns["date"], columns["price"], columns["customer"]
        i_description = columns.get("description")
        i_cost = columns.get("cost")
        name = {field: context.header[index] for field, index in columns.items()}
        state = context.state
        dates: dict[str, datetime | None] = state["dates"]
        # Values repeat a lot in a transaction log; parse each distinct one once.
        quantities: dict[str, int | None] = state["quantities"]
        prices: dict[str, tuple[Decimal, Decimal] | None] = state["prices"]
        amounts: dict[tuple[int, str], Decimal] = state["amounts"]
        for cache in (dates, quantities, prices, amounts):
            if len(cache) > CACHE_LIMIT:  # a hostile file of all-distinct values must not grow them forever
                cache.clear()
        issues = result.issues
        keys: dict[str, IdentityKey | None] = {}
        first_seen_raw: dict[str, datetime] = {}
        imported = 0
        for number, cells in rows:
            invoice = cells[i_invoice].strip()
            if not invoice:
                if not any(cell.strip() for cell in cells):
                    issues.append(RowIssue(number, "", "", EMPTY_ROW(), SKIPPED))
                else:
                    issues.append(RowIssue(number, name["invoice"], "", MISSING_INVOICE()))
                continue
            raw_quantity = cells[i_quantity].strip()
            if raw_quantity in quantities:
                quantity = quantities[raw_quantity]
            else:
                quantity = quantities[raw_quantity] = (
                    int(raw_quantity) if INTEGER.match(raw_quantity) else None
                )
            if quantity is None:
                issues.append(RowIssue(number, name["quantity"], raw_quantity, BAD_QUANTITY()))
                continue
            raw_price = cells[i_price].strip()
            if raw_price in prices:
                parsed_price = prices[raw_price]
            else:
                value = _decimal(raw_price)
                parsed_price = prices[raw_price] = (value, round_money(value)) if value is not None else None
            if parsed_price is None:
                issues.append(RowIssue(number, name["price"], raw_price, BAD_PRICE()))
                continue
            price, rounded_price = parsed_price
            unit_cost = None
            if i_cost is not None:
                raw_cost = cells[i_cost].strip()
                if raw_cost:
                    cost = _decimal(raw_cost)
                    if cost is None:
                        issues.append(RowIssue(number, name["cost"], raw_cost, BAD_COST()))
                        continue
                    if cost < 0:
                        issues.append(RowIssue(number, name["cost"], raw_cost, NEGATIVE_COST()))
                        continue
                    unit_cost = round_money(cost)
            raw_date = cells[i_date].strip()
            placed_at = dates.get(raw_date)
            if placed_at is None:
                placed_at = dates[raw_date] = _parse_date(raw_date)
            if placed_at is None:
                issues.append(RowIssue(number, name["date"], raw_date, BAD_DATE()))
                continue
            raw_customer = cells[i_customer].strip()
            customer_key = None
            if raw_customer:
                if raw_customer in keys:
                    customer_key = keys[raw_customer]
                else:
                    customer_key = keys[raw_customer] = identity_key(
                        Identity.Kind.EXTERNAL_ID, raw_customer, namespace=SOURCE
                    )
                if customer_key is None:
                    issues.append(RowIssue(number, name["customer"], raw_customer, BAD_CUSTOMER()))
                    continue
                # Keyed by the raw id: hashing a string is cheaper than hashing an IdentityKey.
                seen_at = first_seen_raw.get(raw_customer)
                if seen_at is None or placed_at < seen_at:
                    first_seen_raw[raw_customer] = placed_at
            code = cells[i_code].strip()
            is_return = invoice.startswith("C")
            drafts = returns if is_return else orders
            draft = drafts.get(invoice)
            if draft is None:
                draft = drafts[invoice] = Draft(invoice, placed_at, customer_key)
            elif placed_at < draft.placed_at:
                draft.placed_at = placed_at
            if draft.customer_key is None:
                draft.customer_key = customer_key
            adjustment = ADJUSTMENT_CODES.get(code.upper())
            if is_return:
                if quantity >= 0:
                    issues.append(
                        RowIssue(
                            number, name["quantity"], raw_quantity, RETURN_QUANTITY_NOT_NEGATIVE(), SKIPPED
                        )
                    )
                    continue
                draft.amount += -quantity * price
                if adjustment is None:
                    draft.quantity += -quantity
                draft.codes.add(adjustment or "")
                imported += 1
                continue
            if invoice.startswith("A"):
                issues.append(RowIssue(number, name["invoice"], invoice, BAD_DEBT_INVOICE(), SKIPPED))
                continue
            if adjustment is not None:
                issues.append(
                    RowIssue(
                        number, name["stock_code"], code, ADJUSTMENT_ROW[adjustment](kind=adjustment), SKIPPED
                    )
                )
                continue
            if quantity <= 0:
                issues.append(
                    RowIssue(number, name["quantity"], raw_quantity, NON_POSITIVE_QUANTITY(), SKIPPED)
                )
                continue
            if price <= 0:
                issues.append(RowIssue(number, name["price"], raw_price, NON_POSITIVE_PRICE(), SKIPPED))
                continue
            amount = amounts.get((quantity, raw_price))
            if amount is None:
                amount = amounts[quantity, raw_price] = round_money(quantity * price)
            description = cells[i_description].strip() if i_description is not None else ""
            draft.lines.append(
                (number, code[:64], description[:200], quantity, rounded_price, amount, unit_cost)
            )
            draft.amount += amount
            draft.quantity += quantity
            imported += 1
        result.imported_rows += imported
        for raw_customer, seen_at in first_seen_raw.items():
            key = keys[raw_customer]
            if key is not None and (key not in first_seen or seen_at < first_seen[key]):
                first_seen[key] = seen_at

    def _resolve_customers(
        self, first_seen: dict[IdentityKey, datetime], context: ImportContext, result: ChunkResult
    ) -> dict[IdentityKey, int]:
        if not first_seen:
            return {}
        if context.dry_run:
            known = find_customers_by_identity(first_seen)
            new = {key for key in first_seen if key not in known} - context.state["would_create_customers"]
            context.state["would_create_customers"].update(new)
            result.counts["customers_created"] += len(new)
            return known
        profiles = {
            key: {"first_seen_at": when, "source_channel": Channel.OWN_SITE}
            for key, when in first_seen.items()
        }
        resolved = upsert_customers_by_identity(
            profiles, unit=context.unit, source=context.state["source"], actor=context.actor
        )
        result.counts["customers_created"] += resolved.created
        return resolved.ids

    def _write_orders(
        self,
        drafts: dict[str, Draft],
        existing: dict[str, tuple],
        customer_ids: dict,
        store: Store,
        state: dict,
    ) -> None:
        orders = []
        for key, draft in drafts.items():
            total, items, placed_at = _with_earlier_chunks(
                key, draft.amount, draft.quantity, draft.placed_at, existing, state["seen_orders"]
            )
            orders.append(
                Order(
                    store=store,
                    unit_id=store.unit_id,
                    customer_id=customer_ids.get(draft.customer_key),
                    source=state["source"],
                    external_id=key,
                    number=key,
                    status=Order.Status.COMPLETED,
                    device=Order.Device.UNKNOWN,
                    currency=CURRENCY,
                    total_amount=total,
                    item_count=items,
                    placed_at=placed_at,
                    paid_at=placed_at,
                )
            )
        ids = upsert_orders(orders)
        facts = {ids[order.external_id]: facts_of(order) for order in orders}
        # Lines of orders created just now cannot exist yet, so they need no conflict handling.
        new_lines: list[tuple] = []
        known_lines: list[tuple] = []
        for key, draft in drafts.items():
            order_id = ids[key]
            (known_lines if key in existing else new_lines).extend(
                (order_id, line_no, sku, name, "", quantity, unit_price, amount, unit_cost)
                for line_no, sku, name, quantity, unit_price, amount, unit_cost in draft.lines
            )
        upsert_order_lines(new_lines, facts, orders_are_new=True)
        upsert_order_lines(known_lines, facts)
        # An invoice continued from an earlier chunk may have moved earlier: its older lines follow.
        copy_order_facts([ids[key] for key in drafts if key in existing])

    def _write_returns(
        self,
        drafts: dict[str, Draft],
        existing: dict[str, tuple],
        customer_ids: dict,
        store: Store,
        state: dict,
    ) -> None:
        returns = []
        for key, draft in drafts.items():
            amount, quantity, returned_at = _with_earlier_chunks(
                key,
                round_money(draft.amount),
                draft.quantity,
                draft.placed_at,
                existing,
                state["seen_returns"],
            )
            adjustments = sorted(code for code in draft.codes if code)
            reason = "cancellation" if "" in draft.codes or not adjustments else ", ".join(adjustments)
            returns.append(
                Return(
                    store=store,
                    unit_id=store.unit_id,
                    customer_id=customer_ids.get(draft.customer_key),
                    source=state["source"],
                    external_id=key,
                    number=key,
                    currency=CURRENCY,
                    amount=amount,
                    quantity=quantity,
                    returned_at=returned_at,
                    reason=reason[:200],
                )
            )
        upsert_returns(returns)


def _with_earlier_chunks(
    key: str, amount: Decimal, quantity: int, at: datetime, existing: dict[str, tuple], seen: set
) -> tuple[Decimal, int, datetime]:
    """A draft's amount, quantity and time, added to what an earlier chunk of this run already wrote
    for the same invoice (an invoice's rows may straddle chunks)."""
    if key not in seen or key not in existing:
        return amount, quantity, at
    _pk, before_amount, before_quantity, before_at = existing[key]
    return before_amount + amount, before_quantity + quantity, min(before_at, at)


def _existing(model: type[Order] | type[Return], source: str, drafts: dict[str, Draft]) -> dict[str, tuple]:
    """(id, amount, quantity, time) of the records these drafts would upsert, by external id."""
    fields = (
        ("pk", "total_amount", "item_count", "placed_at")
        if model is Order
        else ("pk", "amount", "quantity", "returned_at")
    )
    keys = sorted(drafts)
    found: dict[str, tuple] = {}
    for start in range(0, len(keys), LOOKUP_BATCH):
        for external_id, *values in model.objects.filter(
            source=source, external_id__in=keys[start : start + LOOKUP_BATCH]
        ).values_list("external_id", *fields):
            found[external_id] = tuple(values)
    return found


def _decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or abs(value) >= Decimal("1e11"):
        return None
    return value


def _parse_date(raw: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        for pattern in DATE_FORMATS:
            try:
                parsed = datetime.strptime(raw, pattern)  # noqa: DTZ007 (made aware just below)
                break
            except ValueError:
                continue
        else:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LONDON)
    return parsed
