"""Loading the demo shop: organisation, units, stores, users, catalogue, then customers in chunks.

The organisation, units and users are made through the accounts actions (with their audit
entries). Customers, identities, unit links, orders and lines are written by the bulk path on
purpose, bypassing per-row actions: a million customers must load in minutes. One `import`
audit entry records the whole load.

Each chunk of customers commits on its own so that a running web server and the job panel
stay responsive (SQLite has one writer); an interrupted load leaves a partial demo behind and a
second load refuses, so start again from a fresh database.

Determinism: the same seed, size and anchor give the same customers, identities, orders and
lines. Row ids, the users' password hashes and the creation times of units, users and audit
entries are not part of that promise.
"""

import gc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils.translation import gettext as _

from guanxi.accounts import actions as account_actions
from guanxi.accounts.models import BusinessUnit, User
from guanxi.commerce.models import Order, OrderLine, Product, Store
from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.customers.models import Customer, CustomerUnit, Identity
from guanxi.demo.bulk import BulkWriter
from guanxi.demo.people import PeopleMaker
from guanxi.demo.reference import CATALOGUE, ORGANISATION_NAME, STORES, UNITS, USERS, catalogue_products
from guanxi.demo.seasons import SHANGHAI, DemandCalendar
from guanxi.demo.shopping import Catalogue, Chunk, Shop, StoreInfo

DEMO_PASSWORD = "guanxi-demo-2026"  # noqa: S105 (documented demo credential)
DEFAULT_SEED = 20261126
DEFAULT_ANCHOR = datetime(2026, 10, 31, 23, 59, tzinfo=SHANGHAI)
CHUNK_SIZE = 10_000

CUSTOMER_FIELDS = (
    "id",
    "name",
    "gender",
    "birthday",
    "province",
    "city",
    "occupation",
    "source_channel",
    "first_seen_at",
    "owner",
    "created_at",
    "updated_at",
)
LINK_FIELDS = ("customer", "unit", "first_seen_at")
IDENTITY_FIELDS = ("customer", "kind", "namespace", "value", "source", "is_verified", "created_at")
ORDER_FIELDS = (
    "id",
    "customer",
    "store",
    "unit",
    "source",
    "external_id",
    "number",
    "status",
    "device",
    "total_amount",
    "refunded_amount",
    "item_count",
    "placed_at",
    "paid_at",
    "created_at",
)
LINE_FIELDS = ("order", "product", "sku", "name", "category", "quantity", "unit_price", "amount")


class DemoAlreadyLoaded(Exception):  # noqa: N818 (the public name callers catch)
    """The database already holds (part of) the demo shop; loading again would duplicate it."""


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    units: tuple[str, ...]
    password: str


@dataclass(frozen=True)
class DemoSummary:
    units: int
    stores: int
    products: int
    customers: int
    multi_store_customers: int
    cross_unit_customers: int
    identities: int
    orders: int
    order_lines: int
    revenue: Decimal  # total of orders in Order.SALE_STATUSES, CNY
    users: tuple[DemoUser, ...]


Progress = Callable[[int, int, str], None]


def load_demo(
    customers: int = 6000,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    *,
    anchor: datetime = DEFAULT_ANCHOR,
    actor: User | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> DemoSummary:
    """Fill an empty database with a deterministic multi-channel merchant; see the module docstring."""
    if customers < 1:
        raise ValueError("customers must be at least 1")
    report = progress or (lambda done, total, message: None)
    report(0, customers, _("Creating the organisation, business units, stores and users"))
    with transaction.atomic():
        _refuse_if_loaded()
        units, stores, users, products = _set_up(anchor, actor)
    writer = BulkWriter()
    calendar = DemandCalendar(anchor, [code for code, _name in UNITS])
    owners = {"offline": users["sales"].id}
    shop = Shop(
        calendar,
        PeopleMaker(anchor.astimezone(SHANGHAI).date()),
        stores,
        _catalogues(products),
        writer.timestamp,
        owners,
    )
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived tuples and no reference cycles: collections only cost time
    try:
        with writer.tuned():
            totals = _load_customers(shop, writer, seed, customers, chunk_size, report)
    finally:
        if collecting:
            gc.enable()
    summary = DemoSummary(
        units=len(units),
        stores=len(stores),
        products=len(products),
        customers=customers,
        multi_store_customers=totals["multi"],
        cross_unit_customers=totals["cross"],
        identities=totals["identities"],
        orders=totals["orders"],
        order_lines=totals["lines"],
        revenue=Decimal(totals["revenue"]).scaleb(-2),
        users=tuple(DemoUser(name, role, codes, DEMO_PASSWORD) for name, role, codes, _d in USERS),
    )
    audit.record(
        AuditEntry.Action.IMPORT,
        actor=actor,
        object_type="demo",
        object_id=str(seed),
        message=(
            f"demo shop loaded (seed {seed}): {summary.units} units, {summary.stores} stores, "
            f"{summary.customers} customers, {summary.orders} orders, {summary.order_lines} order lines"
        ),
    )
    return summary


def _load_customers(
    shop: Shop, writer: BulkWriter, seed: int, customers: int, chunk_size: int, report: Progress
) -> Counter:
    totals: Counter = Counter()
    for first in range(0, customers, chunk_size):
        count = min(chunk_size, customers - first)
        chunk = shop.chunk(seed, first, count)
        with transaction.atomic():
            _write(writer, chunk)
        totals.update(
            multi=chunk.multi_store,
            cross=chunk.cross_unit,
            identities=len(chunk.identities),
            orders=len(chunk.orders),
            lines=len(chunk.lines),
            revenue=chunk.revenue_cents,
        )
        done = first + count
        report(
            done,
            customers,
            _("Created %(done)d of %(total)d customers with their orders")
            % {"done": done, "total": customers},
        )
    return totals


def _refuse_if_loaded() -> None:
    found = [
        *BusinessUnit.objects.filter(code__in=[code for code, _name in UNITS]).values_list("code", flat=True),
        *Store.objects.filter(source__in=[s[4] for s in STORES]).values_list("source", flat=True),
        *User.objects.filter(username__in=[u[0] for u in USERS]).values_list("username", flat=True),
    ]
    if found:
        raise DemoAlreadyLoaded(
            _("The database already holds demo data (%(found)s). Load the demo into a fresh database.")
            % {"found": ", ".join(sorted(found))}
        )


def _set_up(anchor: datetime, actor: User | None):
    account_actions.ensure_organisation(ORGANISATION_NAME)
    units = {
        code: account_actions.create_business_unit(code=code, name=name, actor=actor) for code, name in UNITS
    }
    opened = anchor - timedelta(days=3 * 365)
    created = Store.objects.bulk_create(
        Store(unit=units[unit_code], name=name, channel=channel, source=source, created_at=opened)
        for _key, unit_code, name, channel, source, _weight, _code in STORES
    )
    stores = [
        StoreInfo(
            id=store.pk,
            unit_id=store.unit_id,
            unit_code=spec[1],
            channel=spec[3],
            source=spec[4],
            code=spec[6],
            weight=spec[5],
        )
        for store, spec in zip(created, STORES, strict=True)
    ]
    users = {
        username: account_actions.create_user(
            username=username,
            password=None,
            role=role,
            units=[units[c] for c in codes],
            display_name=display_name,
            actor=actor,
        )
        for username, role, codes, display_name in USERS
    }
    # One hash for the shared demo password: Argon2 costs half a second per user.
    User.objects.filter(pk__in=[user.pk for user in users.values()]).update(
        password=make_password(DEMO_PASSWORD)
    )
    catalogue = catalogue_products()
    Product.objects.bulk_create(
        Product(sku=sku, name=name, category=category, price=price)
        for _unit, sku, name, category, price in catalogue
    )
    ids = dict(Product.objects.filter(sku__in=[p[1] for p in catalogue]).values_list("sku", "id"))
    products = [
        (unit, ids[sku], sku, name, category, price) for unit, sku, name, category, price in catalogue
    ]
    return units, stores, users, products


def _catalogues(products: list[tuple]) -> dict[str, Catalogue]:
    """Per unit: category weights from the reference data; within a category earlier SKUs sell more."""
    catalogues = {}
    for unit_code, (_prefix, categories) in CATALOGUE.items():
        by_category = {
            category: [
                (pid, sku, name, cat, int(price * 100))
                for unit, pid, sku, name, cat, price in products
                if unit == unit_code and cat == category
            ]
            for category, *_rest in categories
        }
        catalogues[unit_code] = Catalogue(
            categories=tuple(c[0] for c in categories),
            category_weights=tuple(accumulate(c[2] for c in categories)),
            products=by_category,
            product_weights={
                c: tuple(accumulate(1 / (rank + 2) for rank in range(len(items))))
                for c, items in by_category.items()
            },
        )
    return catalogues


def _write(writer: BulkWriter, chunk: Chunk) -> None:
    customer_ids = writer.reserve_ids(Customer, len(chunk.customers))
    order_ids = writer.reserve_ids(Order, len(chunk.orders))
    # Orders get their ids in order of time: the placed_at indexes then fill in one sweep per chunk.
    by_time = sorted(range(len(chunk.orders)), key=lambda position: chunk.orders[position][11])
    order_id = [0] * len(by_time)
    for position, original in enumerate(by_time):
        order_id[original] = order_ids[position]
    writer.insert(
        Customer,
        CUSTOMER_FIELDS,
        [(cid, *row) for cid, row in zip(customer_ids, chunk.customers, strict=True)],
    )
    writer.insert(CustomerUnit, LINK_FIELDS, [(customer_ids[row[0]], *row[1:]) for row in chunk.links])
    writer.insert(Identity, IDENTITY_FIELDS, [(customer_ids[row[0]], *row[1:]) for row in chunk.identities])
    orders = chunk.orders
    writer.insert(
        Order,
        ORDER_FIELDS,
        [(order_id[i], customer_ids[orders[i][0]], *orders[i][1:]) for i in by_time],
    )
    lines = sorted(((order_id[row[0]], *row[1:]) for row in chunk.lines), key=lambda line: line[0])
    writer.insert(OrderLine, LINE_FIELDS, lines)
