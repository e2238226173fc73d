"""What commerce adds to a customer: its references (merges move orders, lines, returns and events), the
orders and returns on the timeline, the order totals section of the 360 page and API, order-number
search, the "has orders" list filter and the order summary on the merge queue.

Every read goes through `restrict(user, "view")`: a unit-A user sees unit A's orders and returns of a
person shared with unit B, and totals over those alone.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from guanxi.commerce.models import Channel, Event, Order, OrderLine, Return
from guanxi.core.display import label_of
from guanxi.core.money import round_money
from guanxi.customers.models import TimelineEvent
from guanxi.customers.references import (
    ApiPart,
    ListFilter,
    Repoint,
    Section,
    register_list_filter,
    register_profile_facts,
    register_reference,
    register_search_lookup,
    register_section,
    register_timeline_source,
)
from guanxi.customers.timeline import TimelineItem, describe

RECENT_ORDERS = 20
RECENT_RETURNS = 20
ZERO = Decimal("0.00")
ORDER_PLACED = TimelineEvent.Kind.ORDER_PLACED
RETURN_RECORDED = TimelineEvent.Kind.RETURN_RECORDED


@dataclass(frozen=True)
class StoreTotal:
    store_id: int
    store_name: str
    channel: str
    channel_label: str
    unit_id: int
    currency: str
    orders: int
    revenue: Decimal
    refunded: Decimal


@dataclass(frozen=True)
class ChannelTotal:
    channel: str
    channel_label: str
    currency: str
    orders: int
    revenue: Decimal
    refunded: Decimal


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    orders: int
    revenue: Decimal
    refunded: Decimal
    returned: Decimal


@dataclass(frozen=True)
class OrderTotals:
    """Visible orders only. Revenue counts orders in a sale status (paid to completed)."""

    orders: int
    per_currency: tuple[CurrencyTotal, ...]
    per_store: tuple[StoreTotal, ...]
    per_channel: tuple[ChannelTotal, ...]


@dataclass(frozen=True)
class CustomerOrders:
    """The 360 page's orders section."""

    totals: OrderTotals
    recent_orders: tuple[Order, ...]
    recent_returns: tuple[Return, ...]


def fetch_order_totals(user, customer) -> OrderTotals:
    """Totals per store, per channel and per currency over the orders `user` may see."""
    rows = (
        Order.objects.restrict(user, "view")
        .filter(customer=customer)
        .values("store_id", "store__name", "store__channel", "unit_id", "currency")
        .annotate(
            orders=Count("id"),
            revenue=Sum("total_amount", filter=Q(status__in=Order.SALE_STATUSES)),
            refunded=Sum("refunded_amount"),
        )
        .order_by("store__name", "store_id", "currency")
    )
    per_store = tuple(
        StoreTotal(
            store_id=row["store_id"],
            store_name=row["store__name"],
            channel=row["store__channel"],
            channel_label=label_of(Channel, row["store__channel"]),
            unit_id=row["unit_id"],
            currency=row["currency"],
            orders=row["orders"],
            revenue=round_money(row["revenue"] or ZERO),
            refunded=round_money(row["refunded"] or ZERO),
        )
        for row in rows
    )
    returned = (
        Return.objects.restrict(user, "view")
        .filter(customer=customer)
        .values("currency")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    return OrderTotals(
        orders=sum(store.orders for store in per_store),
        per_currency=_per_currency(
            per_store, {row["currency"]: round_money(row["amount"]) for row in returned}
        ),
        per_store=per_store,
        per_channel=_per_channel(per_store),
    )


def _per_channel(per_store: tuple[StoreTotal, ...]) -> tuple[ChannelTotal, ...]:
    sums: dict[tuple[str, str], list] = defaultdict(lambda: [0, ZERO, ZERO])
    for store in per_store:
        bucket = sums[(store.channel, store.currency)]
        bucket[0] += store.orders
        bucket[1] += store.revenue
        bucket[2] += store.refunded
    order = {channel: index for index, (channel, _label) in enumerate(Channel.choices)}
    return tuple(
        ChannelTotal(
            channel=channel,
            channel_label=label_of(Channel, channel),
            currency=currency,
            orders=orders,
            revenue=revenue,
            refunded=refunded,
        )
        for (channel, currency), (orders, revenue, refunded) in sorted(
            sums.items(), key=lambda item: (order.get(item[0][0], len(order)), item[0][1])
        )
    )


def _per_currency(
    per_store: tuple[StoreTotal, ...], returned: dict[str, Decimal]
) -> tuple[CurrencyTotal, ...]:
    currencies = sorted({store.currency for store in per_store} | set(returned))
    return tuple(
        CurrencyTotal(
            currency=currency,
            orders=sum(store.orders for store in per_store if store.currency == currency),
            revenue=sum((store.revenue for store in per_store if store.currency == currency), ZERO),
            refunded=sum((store.refunded for store in per_store if store.currency == currency), ZERO),
            returned=returned.get(currency) or ZERO,
        )
        for currency in currencies
    )


def fetch_customer_orders(user, customer) -> CustomerOrders:
    return CustomerOrders(
        totals=fetch_order_totals(user, customer),
        recent_orders=tuple(
            Order.objects.restrict(user, "view")
            .filter(customer=customer)
            .select_related("store")
            .order_by("-placed_at", "-id")[:RECENT_ORDERS]
        ),
        recent_returns=tuple(
            Return.objects.restrict(user, "view")
            .filter(customer=customer)
            .select_related("store", "order")
            .order_by("-returned_at", "-id")[:RECENT_RETURNS]
        ),
    )


def totals_for_api(user, customer) -> dict:
    totals = fetch_order_totals(user, customer)
    return {
        "orders": totals.orders,
        "per_currency": [vars(row) for row in totals.per_currency],
        "per_store": [vars(row) for row in totals.per_store],
        "per_channel": [
            {key: value for key, value in vars(row).items() if key != "channel_label"}
            for row in totals.per_channel
        ],
    }


def timeline_items(customer, user, limit: int) -> list[TimelineItem]:
    """The customer's newest orders and returns that `user` may see, newest first."""
    orders = Order.objects.restrict(user, "view").filter(customer=customer).select_related("store")
    returns = Return.objects.restrict(user, "view").filter(customer=customer).select_related("store")
    items = [_order_item(order) for order in orders.order_by("-placed_at", "-id")[:limit]]
    items += [_return_item(row) for row in returns.order_by("-returned_at", "-id")[:limit]]
    return sorted(items, key=lambda item: item.occurred_at, reverse=True)


def _order_item(order: Order) -> TimelineItem:
    data = {
        "number": order.number,
        "store": order.store.name,
        "total": str(order.total_amount),
        "currency": order.currency,
        "status": order.get_status_display(),
    }
    return TimelineItem(
        occurred_at=order.placed_at,
        kind=ORDER_PLACED,
        summary=describe(ORDER_PLACED, data),
        unit_id=order.unit_id,
        data=data,
        source_type="commerce.order",
        source_id=str(order.pk),
    )


def _return_item(row: Return) -> TimelineItem:
    data = {
        "number": row.number,
        "store": row.store.name,
        "amount": str(row.amount),
        "currency": row.currency,
    }
    return TimelineItem(
        occurred_at=row.returned_at,
        kind=RETURN_RECORDED,
        summary=describe(RETURN_RECORDED, data),
        unit_id=row.unit_id,
        data=data,
        source_type="commerce.return",
        source_id=str(row.pk),
    )


def customers_by_order_number(user, text: str) -> QuerySet:
    # Only orders the user may see: a unit-B order number must not reveal a shared customer.
    return (
        Order.objects.restrict(user, "view")
        .filter(number=text, customer__isnull=False)
        .values_list("customer_id", flat=True)
    )


def filter_by_orders(customers: QuerySet, user, value: str, unit_id: int | None) -> QuerySet:
    with_orders = Order.objects.restrict(user, "view")
    if unit_id is not None:
        with_orders = with_orders.filter(unit_id=unit_id)
    buyers = Q(pk__in=with_orders.values("customer_id"))
    return customers.filter(buyers if value == "yes" else ~buyers)


def order_facts(user, customer) -> list[tuple[Any, str]]:
    totals = fetch_order_totals(user, customer)
    stores = ", ".join(dict.fromkeys(store.store_name for store in totals.per_store))
    return [(_("Orders"), f"{totals.orders:,}"), (_("Stores"), stores or "—")]


def register() -> None:
    register_personal_data()
    from guanxi.commerce.api import TotalsOut

    register_reference("orders", Order, Repoint())
    register_reference("order_lines", OrderLine, Repoint())  # the line's copy of its order's customer
    register_reference("returns", Return, Repoint())
    register_reference("events", Event, Repoint())
    register_timeline_source("commerce", timeline_items)
    register_section(
        Section(
            key="totals",
            template="commerce/customer_orders.html",
            kpi_template="commerce/customer_kpis.html",
            fetch=fetch_customer_orders,
            api=ApiPart(TotalsOut, "Over the orders and returns the caller may see only.", totals_for_api),
        )
    )
    register_search_lookup("order_number", customers_by_order_number)
    register_list_filter(
        ListFilter(
            key="has_orders",
            label=_("Has orders"),
            choices=lambda: [("yes", _("Yes")), ("no", _("No"))],
            apply=filter_by_orders,
        )
    )
    register_profile_facts("orders", order_facts)


def register_personal_data() -> None:
    """Declare how erasure treats this app's personal fields (guanxi.privacy; a test keeps it complete)."""
    from guanxi.commerce.models import (
        Event,
        IdempotencyRecord,
        ImportMapping,
        ImportRowError,
        ImportRun,
        Order,
        OrderLine,
        Product,
        Store,
        WebhookDelivery,
        WebhookInbox,
    )
    from guanxi.customers.references import Blank, DeleteRows, NotPersonal, Retain, Scrub, register_pii

    register_pii(Event, ["name", "properties"], DeleteRows())
    # Events received before the visitor was known may carry their address in the properties.
    register_pii(Event, ["properties"], Scrub())
    register_pii(Order, ["attributes"], Blank())
    register_pii(
        Order,
        ["number", "currency", "total_amount", "refunded_amount", "placed_at", "paid_at"],
        Retain(
            "Order records are accounting records: the Accounting Law (会计法) and the Measures on "
            "accounting archives (会计档案管理办法) require them kept; the order keeps no name, phone or address."
        ),
    )
    register_pii(OrderLine, ["name"], NotPersonal("The product's name."))
    register_pii(Product, ["name"], NotPersonal("The product's name."))
    register_pii(Store, ["name"], NotPersonal("The store's name."))
    register_pii(ImportMapping, ["name"], NotPersonal("A saved column mapping's name."))
    register_pii(ImportRun, ["file_name", "message", "params"], Scrub())
    register_pii(ImportRowError, ["value", "params"], Scrub())
    register_pii(IdempotencyRecord, ["response"], Scrub())
    register_pii(WebhookDelivery, ["message"], Scrub())
    register_pii(WebhookDelivery, ["payload_sha256"], NotPersonal("A digest of the delivered body."))
    register_pii(
        WebhookInbox,
        ["body"],
        Retain(
            "A delivery waiting to be applied: the row is deleted once applied (seconds), and what it "
            "brings back of an erased person is suppressed like any re-import."
        ),
    )
