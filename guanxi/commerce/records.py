"""Platform records in one shape, whatever sent them: a file preset, a webhook or the ingestion API.

Converters (Shopify, WooCommerce, Taobao, the API schemas) build these; the connector actions in
`guanxi.commerce.actions` write them. Values are already parsed (Decimal, aware datetimes) and
identities already normalised, so writing never has to guess.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from guanxi.customers.identities import IdentityKey, identity_key, is_masked


@dataclass
class PersonRecord:
    """Who placed an order or caused an event, as far as the sender knows."""

    # Strong identities, the most specific first (platform id, then phone, email…).
    keys: list[IdentityKey] = field(default_factory=list)
    # Masked values (138****5678): never identities, kept as hints for merge suggestions.
    hints: list[tuple[str, str]] = field(default_factory=list)  # (identity kind, masked value)
    # Profile fields for a customer created from this record (customers.actions.PROFILE_FIELDS).
    profile: dict[str, Any] = field(default_factory=dict)
    # Values that were neither (invalid or placeholder: "not-an-email", 13800000000), with the column
    # they came from: an importer reports each as a warning on its row instead of losing it silently.
    dropped: list[tuple[str, str, str]] = field(default_factory=list)  # (identity kind, column, value)

    def add(
        self, kind: str, raw: Any, namespace: str = "", region: str | None = None, column: str = ""
    ) -> None:
        """Add an identity if the value identifies someone, a hint if it is masked, else note it dropped."""
        text = str(raw or "").strip()
        if not text:
            return
        key = identity_key(kind, text, namespace=namespace, **({"region": region} if region else {}))
        if key is not None:
            if key not in self.keys:
                self.keys.append(key)
        elif is_masked(text):
            if (kind, text) not in self.hints:
                self.hints.append((kind, text[:200]))
        else:
            self.dropped.append((kind, column or kind, text))

    @property
    def is_empty(self) -> bool:
        return not self.keys and not self.hints


@dataclass
class LineRecord:
    line_no: int
    name: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    sku: str = ""
    category: str = ""
    unit_cost: Decimal | None = None  # the merchant's cost of one unit, when the sender knows it

    def as_tuple(self, order_id: int) -> tuple:
        # In guanxi.commerce.actions.LINE_COLUMNS order.
        return (
            order_id,
            self.line_no,
            self.sku[:64],
            self.name[:200],
            self.category[:64],
            self.quantity,
            self.unit_price,
            self.amount,
            self.unit_cost,
        )


@dataclass
class RefundRecord:
    external_id: str
    amount: Decimal
    refunded_at: datetime
    reason: str = ""


@dataclass
class OrderRecord:
    external_id: str
    number: str
    status: str
    placed_at: datetime
    total_amount: Decimal
    currency: str
    paid_at: datetime | None = None
    device: str = ""
    refunded_amount: Decimal = Decimal("0.00")
    item_count: int | None = None  # None: the sum of the lines' quantities
    # The sender's last-modified time; an older one never overwrites a newer one.
    source_updated_at: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    lines: list[LineRecord] = field(default_factory=list)
    refunds: list[RefundRecord] = field(default_factory=list)
    person: PersonRecord | None = None

    @property
    def items(self) -> int:
        if self.item_count is not None:
            return self.item_count
        return sum(max(line.quantity, 0) for line in self.lines)


@dataclass
class EventRecord:
    external_id: str
    kind: str
    occurred_at: datetime
    name: str = ""
    anonymous_id: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    person: PersonRecord | None = None


@dataclass(frozen=True)
class Outcome:
    """What writing one record did: created, updated, unchanged or stale (an older version)."""

    status: str
    id: int | None = None
