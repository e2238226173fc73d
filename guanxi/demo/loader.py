"""Loading the demo shop: organisation, units, stores, users, catalogue, then customers in chunks.

The organisation, units, users, tags and custom fields are made through actions (with their
audit entries). Every per-customer row (customers, identities, identity hints, unit links,
orders, lines, returns, events, addresses, consent evidence, tags, custom values, notes and the
timeline events the profile actions would have written) goes through the bulk path on purpose,
bypassing per-row actions: a million customers must load in minutes. One `import` audit entry
records the whole load. Last, identity resolution merges the strong duplicates the generator
planted (through the merging functions, so the merge history is real) and `suggest_merges()`
fills the suggestion queue with the weak ones.

Each chunk of customers commits on its own so that a running web server and the job panel
stay responsive (SQLite has one writer); an interrupted load leaves a partial demo behind and a
second load refuses, so start again from a fresh database.

History ends at the anchor, by default the minute the demo is loaded.

Determinism: the same seed, size and anchor give the same customers, identities, orders, lines
and every other generated row. Row ids, the users' password hashes and the creation times of
units, users, tags, merges, suggestions and audit entries are not part of that promise.
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
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.accounts import actions as account_actions
from guanxi.accounts.models import BusinessUnit, User
from guanxi.commerce.actions import FACT_FIELDS
from guanxi.commerce.models import Event, Order, OrderLine, Product, Return, Store
from guanxi.core import audit
from guanxi.core.display import Coded
from guanxi.core.models import AuditEntry
from guanxi.customers import profile as profile_actions
from guanxi.customers.merging.strong import resolve_strong_matches
from guanxi.customers.merging.suggestions import suggest_merges
from guanxi.customers.models import (
    Address,
    Consent,
    Customer,
    CustomerTag,
    CustomerUnit,
    CustomFieldDefinition,
    CustomFieldValue,
    Identity,
    IdentityHint,
    Note,
    Tag,
    TagGroup,
    TimelineEvent,
)
from guanxi.demo.bulk import BulkWriter
from guanxi.demo.people import PeopleMaker
from guanxi.demo.phrases import CUSTOMERS_CREATED, DEMO_LOADED, MERGING, SETTING_UP
from guanxi.demo.profiles import ProfileMaker, as_json
from guanxi.demo.reference import (
    CATALOGUE,
    CUSTOM_FIELDS,
    ORGANISATION_NAME,
    STORES,
    TAG_GROUPS,
    UNITS,
    USERS,
    catalogue_products,
    unit_cost_cents,
)
from guanxi.demo.seasons import SHANGHAI, DemandCalendar
from guanxi.demo.shopping import Catalogue, Chunk, Shop, StoreInfo

DEMO_PASSWORD = "guanxi-demo-2026"  # noqa: S105 (documented demo credential)
DEFAULT_SEED = 20261126
# A fixed end of history for reproducible datasets (tests, the benchmarks' kept datasets); a demo
# loaded without an anchor ends at the minute it is loaded, so "the last 30 days" hold data.
REFERENCE_ANCHOR = datetime(2026, 10, 31, 23, 59, tzinfo=SHANGHAI)
CHUNK_SIZE = 10_000

CUSTOMER_FIELDS = (
    "id",
    "name",
    "gender",
    "birthday",
    "province",
    "city",
    "district",
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
# After the order, what a line copies from it (see OrderLine.customer).
LINE_FIELDS = (
    "order",
    *FACT_FIELDS,
    "product",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price",
    "amount",
    "unit_cost",
)
RETURN_FIELDS = (
    "customer",
    "order",
    "store",
    "unit",
    "source",
    "external_id",
    "number",
    "amount",
    "quantity",
    "returned_at",
    "reason",
    "created_at",
)
HINT_FIELDS = ("customer", "kind", "namespace", "value", "source", "created_at")
ADDRESS_FIELDS = (
    "customer",
    "receiver",
    "phone",
    "province",
    "city",
    "district",
    "street",
    "is_default",
    "source",
    "created_at",
    "updated_at",
)
CONSENT_FIELDS = ("id", "customer", "channel", "state", "recorded_at", "method", "source", "evidence", "unit")
TAG_FIELDS = ("customer", "tag", "added_at", "added_by")
VALUE_FIELDS = ("customer", "definition", "value", "updated_at", "updated_by")
NOTE_FIELDS = ("id", "customer", "unit", "author", "body", "created_at")
EVENT_FIELDS = (
    "customer",
    "store",
    "unit",
    "source",
    "external_id",
    "kind",
    "name",
    "properties",
    "occurred_at",
    "received_at",
)
TIMELINE_FIELDS = (
    "customer",
    "unit",
    "kind",
    "occurred_at",
    "summary",
    "data",
    "source_type",
    "source_id",
    "actor",
    "created_at",
)


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
    returns: int
    events: int  # behavioural events (browse, add to cart, checkout started)
    addresses: int
    consents: int  # consent evidence rows
    tagged_customers: int
    customer_tags: int
    custom_values: int
    notes: int
    identity_hints: int
    # Extra profiles of people already among `customers` (so the database holds customers +
    # duplicates customer rows); `merges` of them were merged by identity resolution, and
    # `merge_suggestions` open suggestions wait in the queue.
    duplicates: int
    merges: int
    merge_suggestions: int


Progress = Callable[[int, int, str | Coded], None]


def load_demo(
    customers: int = 6000,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    *,
    anchor: datetime | None = None,
    actor: User | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> DemoSummary:
    """Fill an empty database with a deterministic multi-channel merchant whose history ends at
    `anchor` (default: now); see the module docstring."""
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if anchor is None:
        anchor = timezone.now().astimezone(SHANGHAI).replace(second=0, microsecond=0)
    report = progress or (lambda done, total, message: None)
    report(0, customers, SETTING_UP())
    with transaction.atomic():
        _refuse_if_loaded()
        units, stores, users, products = _set_up(anchor, actor)
        tag_ids, field_ids = _set_up_profiles(actor)
    writer = BulkWriter()
    calendar = DemandCalendar(anchor, [code for code, _name in UNITS])
    owners = {"offline": users["sales"].id}
    people = PeopleMaker(anchor.astimezone(SHANGHAI).date())
    user_ids = {name: users[name].id for name in ("marketer", "service", "sales")}
    shop = Shop(
        calendar,
        people,
        stores,
        _catalogues(products),
        writer.timestamp,
        owners,
        ProfileMaker(people, calendar.anchor_ts, writer.timestamp, tag_ids, field_ids, user_ids),
    )
    labels = {
        "tags": {tag_id: name for name, tag_id in tag_ids.items()},
        "fields": {field_id: key for key, field_id in field_ids.items()},
        "field_labels": {key: label for key, label, *_rest in CUSTOM_FIELDS},
    }
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived tuples and no reference cycles: collections only cost time
    try:
        with writer.tuned():
            totals, strong = _load_customers(shop, writer, seed, customers, chunk_size, report, labels)
    finally:
        if collecting:
            gc.enable()
    report(customers, customers, MERGING())
    merges = resolve_strong_matches(customer_ids=strong, actor=actor)
    suggested = suggest_merges()
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
        returns=totals["returns"],
        events=totals["events"],
        addresses=totals["addresses"],
        consents=totals["consents"],
        tagged_customers=totals["tagged"],
        customer_tags=totals["tags"],
        custom_values=totals["custom_values"],
        notes=totals["notes"],
        identity_hints=totals["hints"],
        duplicates=totals["duplicates"],
        merges=len(merges),
        merge_suggestions=suggested["created"],
    )
    audit.record(
        AuditEntry.Action.IMPORT,
        actor=actor,
        object_type="demo",
        object_id=str(seed),
        message=DEMO_LOADED(
            seed=seed,
            units=summary.units,
            stores=summary.stores,
            customers=summary.customers,
            orders=summary.orders,
            order_lines=summary.order_lines,
            events=summary.events,
            duplicates=summary.duplicates,
            merges=summary.merges,
            merge_suggestions=summary.merge_suggestions,
        ),
    )
    return summary


def _load_customers(
    shop: Shop, writer: BulkWriter, seed: int, customers: int, chunk_size: int, report: Progress, labels: dict
) -> tuple[Counter, list[int]]:
    """Generate and write every chunk; returns the totals and the ids of profiles to be merged."""
    totals: Counter = Counter()
    strong: list[int] = []
    for first in range(0, customers, chunk_size):
        count = min(chunk_size, customers - first)
        chunk = shop.chunk(seed, first, count)
        with transaction.atomic():
            strong += _write(writer, chunk, labels)
        totals.update(
            multi=chunk.multi_store,
            cross=chunk.cross_unit,
            identities=len(chunk.identities),
            orders=len(chunk.orders),
            lines=len(chunk.lines),
            revenue=chunk.revenue_cents,
            returns=len(chunk.returns),
            events=len(chunk.events),
            addresses=len(chunk.addresses),
            consents=len(chunk.consents),
            tagged=len({row[0] for row in chunk.tags}),
            tags=len(chunk.tags),
            custom_values=len(chunk.custom_values),
            notes=len(chunk.notes),
            hints=len(chunk.hints),
            duplicates=chunk.duplicates,
        )
        done = first + count
        report(done, customers, CUSTOMERS_CREATED(done=done, total=customers))
    return totals, strong


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
            # Export is not a marketer's default; the demo's marketer was given it, as a merchant would.
            can_export=True if username == "marketer" else None,
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


def _set_up_profiles(actor: User | None) -> tuple[dict[str, int], dict[str, int]]:
    """Tag groups, tags and custom fields through the profile actions; ones already defined are reused."""
    groups = dict(TagGroup.objects.values_list("name", "id"))
    tags = dict(Tag.objects.values_list("name", "id"))
    for group_name, group_colour, members in TAG_GROUPS:
        group = (
            TagGroup.objects.get(pk=groups[group_name])
            if group_name in groups
            else profile_actions.create_tag_group(group_name, group_colour, actor=actor)
        )
        for name, colour, description in members:
            if name not in tags:
                tags[name] = profile_actions.create_tag(name, colour, group, description, actor=actor).pk
    fields = dict(CustomFieldDefinition.objects.values_list("key", "id"))
    for key, label, kind, choices, description in CUSTOM_FIELDS:
        if key not in fields:
            fields[key] = profile_actions.create_custom_field(
                key, label, kind, list(choices), description, actor=actor
            ).pk
    wanted_tags = {name for _g, _c, members in TAG_GROUPS for name, _colour, _d in members}
    return {name: tags[name] for name in wanted_tags}, {key: fields[key] for key, *_rest in CUSTOM_FIELDS}


def _catalogues(products: list[tuple]) -> dict[str, Catalogue]:
    """Per unit: category weights from the reference data; within a category earlier SKUs sell more."""
    catalogues = {}
    for unit_code, (_prefix, categories) in CATALOGUE.items():
        by_category = {
            category: [
                (pid, sku, name, cat, int(price * 100), unit_cost_cents(sku, int(price * 100)))
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


def _write(writer: BulkWriter, chunk: Chunk, labels: dict) -> list[int]:
    """Insert one chunk's rows; returns the database ids of its strong duplicates."""
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
    facts = [(customer_ids[order[0]], order[2], order[11], order[6]) for order in orders]
    lines = sorted(
        ((order_id[row[0]], *facts[row[0]], *row[1:]) for row in chunk.lines), key=lambda line: line[0]
    )
    writer.insert(OrderLine, LINE_FIELDS, lines)
    writer.insert(
        Return,
        RETURN_FIELDS,
        [(customer_ids[row[0]], order_id[row[1]], *row[2:]) for row in chunk.returns],
    )
    writer.insert(IdentityHint, HINT_FIELDS, [(customer_ids[row[0]], *row[1:]) for row in chunk.hints])
    writer.insert(Address, ADDRESS_FIELDS, [(customer_ids[row[0]], *row[1:]) for row in chunk.addresses])
    # Events in time order, like the orders: the occurred_at indexes fill in one sweep.
    events = sorted(chunk.events, key=lambda row: row[8])
    writer.insert(Event, EVENT_FIELDS, [(customer_ids[row[0]], *row[1:]) for row in events])
    writer.insert(CustomerTag, TAG_FIELDS, [(customer_ids[row[0]], *row[1:]) for row in chunk.tags])
    writer.insert(
        CustomFieldValue, VALUE_FIELDS, [(customer_ids[row[0]], *row[1:]) for row in chunk.custom_values]
    )
    consent_ids = writer.reserve_ids(Consent, len(chunk.consents))
    writer.insert(
        Consent,
        CONSENT_FIELDS,
        [(cid, customer_ids[row[0]], *row[1:]) for cid, row in zip(consent_ids, chunk.consents, strict=True)],
    )
    note_ids = writer.reserve_ids(Note, len(chunk.notes))
    writer.insert(
        Note,
        NOTE_FIELDS,
        [(nid, customer_ids[row[0]], *row[1:]) for nid, row in zip(note_ids, chunk.notes, strict=True)],
    )
    writer.insert(
        TimelineEvent, TIMELINE_FIELDS, _timeline(chunk, customer_ids, consent_ids, note_ids, labels)
    )
    return [customer_ids[local] for local in chunk.strong_duplicates]


def _timeline(chunk: Chunk, customer_ids, consent_ids, note_ids, labels: dict) -> list[tuple]:
    """The timeline events the profile actions write for the same changes (see customers.profile)."""
    kinds = TimelineEvent.Kind
    rows = []
    for cid, (local, channel, state, at, method, *_evidence, unit) in zip(
        consent_ids, chunk.consents, strict=True
    ):
        data = as_json({"channel": channel, "state": state, "method": method})
        rows.append(
            (
                customer_ids[local],
                unit,
                kinds.CONSENT_CHANGED,
                at,
                f"Consent {channel} {state}",
                data,
                "customers.consent",
                str(cid),
                None,
                at,
            )
        )
    for local, tag_id, at, by in chunk.tags:
        name = labels["tags"][tag_id]
        rows.append(
            (
                customer_ids[local],
                None,
                kinds.TAG_ADDED,
                at,
                f"Tag {name} added",
                as_json({"tag": name}),
                "customers.tag",
                str(tag_id),
                by,
                at,
            )
        )
    for nid, (local, unit, author, _body, at) in zip(note_ids, chunk.notes, strict=True):
        rows.append(
            (
                customer_ids[local],
                unit,
                kinds.NOTE_ADDED,
                at,
                "Note added",
                as_json({"note": nid}),
                "customers.note",
                str(nid),
                author,
                at,
            )
        )
    for local, field_id, _value, at, by in chunk.custom_values:
        key = labels["fields"][field_id]
        data = as_json({"field": labels["field_labels"][key], "key": key})
        rows.append(
            (
                customer_ids[local],
                None,
                kinds.CUSTOM_FIELD_CHANGED,
                at,
                f"Custom field {key} changed",
                data,
                "",
                "",
                by,
                at,
            )
        )
    return rows
