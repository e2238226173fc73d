"""How demo customers buy: arrival, lifetime, purchase rate, stores, baskets and order states.

Each customer is a Poisson buyer in demand time (see seasons.py) with a gamma-distributed rate
(heavy-tailed: a few customers buy very often), an exponential active lifetime after which they
stop buying, and a first store; about one in eight also buys in a second store, some of them in
the other business unit. A chunk of customers becomes plain rows with chunk-local references
that the loader maps to database ids.

Every refunded order gets its Return. After a customer's orders come the profile extras
(profiles.py) and behavioural events (browsing.py). One customer in DUPLICATE_EVERY also leaves a
second profile behind, as merchants' data do: weak duplicates (same name and address in another
store, the same Taobao nick in the other Taobao-family store, a masked phone with the same name)
for the suggestion queue, and strong ones (the same email or phone stored in a store's
namespace) that identity resolution merges.
"""

import random
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate

from guanxi.commerce.models import Order
from guanxi.customers.models import Identity
from guanxi.demo.browsing import Browsing
from guanxi.demo.people import PeopleMaker, Person, Purchase, pick
from guanxi.demo.profiles import ProfileMaker
from guanxi.demo.reference import RETURN_REASONS
from guanxi.demo.seasons import DAY, DemandCalendar

EXISTING_SHARE = 0.25  # customers who bought before the window opened
ONE_TIMER_SHARE = 0.2
MEAN_LIFETIME_DAYS = 500
RATE_SHAPE, MEAN_RATE = 0.8, 1 / 45  # orders per (average) day while active
MULTI_STORE_SHARE, CROSS_UNIT_SHARE = 0.22, 0.35
SECOND_STORE_ORDER_SHARE = 0.3
MAX_ORDERS = 200
SEED_STRIDE = 10_000_019  # customers per seed before two seeds' streams could meet
# Lines per order, about 1.77 on average: a million customers buy 10.3 million lines, the scale the
# performance budgets are stated at.
LINES = ((1, 2, 3, 4), tuple(accumulate((50, 30, 13, 7))))
QUANTITIES = ((1, 2, 3, 4, 6), tuple(accumulate((80, 13, 5, 1.5, 0.5))))
REASONS = (tuple(r[0] for r in RETURN_REASONS), tuple(accumulate(r[1] for r in RETURN_REASONS)))
# Which customers leave a duplicate profile (by generation index, so every size gets its share)
# and of which kind; a kind the customer's data cannot support falls through to the next one.
DUPLICATE_EVERY, DUPLICATE_AT = 200, 100
DUPLICATE_KINDS = (
    "taobao_nick",
    "address",
    "masked_phone",
    "taobao_nick",
    "address",
    "masked_phone",
    "strong",
)
DUPLICATE_INDEX_OFFSET = 50_000_000  # identifiers of duplicates come from indexes no customer has
TAOBAO_FAMILY = ("tmall", "taobao")
MASKING_CHANNELS = ("tmall", "taobao", "jd")
# Order numbers per channel: (first number, step); the random part stays below the step.
NUMBERING = {
    "tmall": (1_845_000_000_000_000_000, 10_007),  # 19 digits, like Tmall and Taobao trade ids
    "taobao": (2_310_000_000_000_000_000, 10_007),
    "jd": (280_000_000_000, 97),  # 12 digits
    "wechat_mp": (2_000_000_000_000_000, 1_009),  # "WX" + 16 digits
    "shopify": (5_600_000_000_000, 1_031),  # Shopify's 13-digit order id; the name is "#1001"…
    "offline": (100_000_000_000, 13),  # "JA" + 12 digits from the till
}
S = Order.Status
D = Order.Device
DEVICES = {
    "tmall": ((D.MOBILE, D.PC, D.APP), (78, 94, 100)),
    "taobao": ((D.MOBILE, D.PC, D.APP), (80, 95, 100)),
    "jd": ((D.MOBILE, D.PC, D.APP), (72, 90, 100)),
    "wechat_mp": ((D.MOBILE,), (100,)),
    "shopify": ((D.MOBILE, D.PC), (60, 100)),
    "offline": ((D.OFFLINE, D.APP), (85, 100)),
}


@dataclass(frozen=True)
class StoreInfo:
    id: int
    unit_id: int
    unit_code: str
    channel: str
    source: str
    code: str
    weight: int


@dataclass
class Catalogue:
    """One unit's products: categories with weights, products per category with popularity."""

    categories: tuple[str, ...]
    category_weights: tuple[float, ...]
    # category -> [(id, sku, name, category, price in cents, unit cost in cents or None)]
    products: dict[str, list[tuple]]
    product_weights: dict[str, tuple[float, ...]]


@dataclass
class Chunk:
    """Rows of one chunk; customer and order references are positions in this chunk."""

    customers: list[tuple] = field(default_factory=list)
    identities: list[tuple] = field(default_factory=list)
    links: list[tuple] = field(default_factory=list)
    orders: list[tuple] = field(default_factory=list)
    lines: list[tuple] = field(default_factory=list)
    returns: list[tuple] = field(default_factory=list)  # (customer, order, …) in Return field order
    hints: list[tuple] = field(default_factory=list)
    addresses: list[tuple] = field(default_factory=list)
    consents: list[tuple] = field(default_factory=list)
    tags: list[tuple] = field(default_factory=list)
    custom_values: list[tuple] = field(default_factory=list)
    notes: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    duplicates: int = 0
    strong_duplicates: list[int] = field(default_factory=list)  # positions of profiles to be merged
    multi_store: int = 0
    cross_unit: int = 0
    revenue_cents: int = 0


class Shop:
    """Simulates customers one chunk at a time; counters carry over so numbers stay unique."""

    def __init__(
        self,
        calendar: DemandCalendar,
        people: PeopleMaker,
        stores: list[StoreInfo],
        catalogues: dict[str, Catalogue],
        timestamp,
        owners: dict[str, int],
        profiles: ProfileMaker,
    ):
        self.calendar, self.people, self.stores, self.catalogues = calendar, people, stores, catalogues
        self.timestamp = timestamp  # Unix time -> database value
        self.owners = owners  # store channel -> user id who owns customers first seen there
        self.profiles = profiles
        self.browsing = Browsing(calendar, catalogues, timestamp)
        # Demand time at which the events window opens: customers active past it still visit.
        self.recent_tau = {code: calendar.tau(code, self.browsing.since) for code in catalogues}
        self.store_weights = tuple(accumulate(s.weight for s in stores))
        self.order_seq = 0
        self.store_counters = {s.id: 0 for s in stores}

    def chunk(self, seed: int, first_index: int, count: int) -> Chunk:
        chunk = Chunk()
        rng = random.Random()
        for local in range(count):
            # One stream per customer: the data do not depend on the chunk size.
            rng.seed(seed * SEED_STRIDE + first_index + local)
            self._customer(rng, first_index + local, chunk)
        return chunk

    def _customer(self, rng, index: int, chunk: Chunk) -> None:
        cal = self.calendar
        local = len(chunk.customers)
        primary = pick(rng.random, self.stores, self.store_weights)
        code = primary.unit_code
        total = cal.total(code)
        rate = rng.gammavariate(RATE_SHAPE, MEAN_RATE / RATE_SHAPE)
        if rng.random() < EXISTING_SHARE:
            first_seen = cal.start_ts - rng.randrange(DAY, 730 * DAY)
            end = min(rng.expovariate(1 / MEAN_LIFETIME_DAYS), total)
            first = rng.expovariate(rate)  # memoryless: their next order, whenever the last one was
            taus = [first if first <= end else rng.uniform(0, end)]
            first_ts = None
        else:
            first_ts = cal.moment(rng, cal.arrival_day(code, rng.random()), primary.channel == "offline")
            first_seen = first_ts
            taus = [cal.tau(code, first_ts)]
            lifetime = 0.0 if rng.random() < ONE_TIMER_SHARE else rng.expovariate(1 / MEAN_LIFETIME_DAYS)
            end = min(taus[0] + lifetime, total)
        tau = taus[0]
        while len(taus) < MAX_ORDERS:
            tau += rng.expovariate(rate)
            if tau > end:
                break
            taus.append(tau)

        second = None
        if len(taus) > 1 and rng.random() < MULTI_STORE_SHARE:
            cross = rng.random() < CROSS_UNIT_SHARE
            others = [s for s in self.stores if s is not primary and (s.unit_code != code) == cross]
            second = rng.choices(others, [s.weight for s in others])[0]
            chunk.multi_store += 1
            chunk.cross_unit += second.unit_code != code

        favourite = rng.choice(self.catalogues[code].categories)
        units: dict[int, int] = {}  # unit id -> first order time
        sources = {primary.channel: primary.source}
        if second:
            sources[second.channel] = second.source
        purchases = []
        for k, tau in enumerate(taus):
            store = (
                second
                if second and (k == 1 or (k > 1 and rng.random() < SECOND_STORE_ORDER_SHARE))
                else primary
            )
            if k == 0 and first_ts is not None:
                ts = first_ts
            else:
                ts = cal.moment(rng, cal.day_at(code, tau), store.channel == "offline")
            if ts < units.get(store.unit_id, ts + 1):
                units[store.unit_id] = ts
            purchases.append(
                self._order(rng, local, store, ts, favourite if store.unit_code == code else None, chunk)
            )

        name, gender, birthday, province, city, occupation = self.people.profile(rng, code)
        seen = self.timestamp(first_seen)
        owner = self.owners.get(primary.channel)
        for unit_id, ts in units.items():
            link_seen = first_seen if unit_id == primary.unit_id else ts
            chunk.links.append((local, unit_id, self.timestamp(link_seen)))
        person = Person(
            local,
            index,
            name,
            gender,
            province,
            city,
            occupation,
            primary,
            second,
            first_seen,
            favourite,
            active_recently=end >= self.recent_tau[code],
            purchases=purchases,
        )
        for kind, namespace, value, source, verified in self.people.identities(rng, index, sources):
            chunk.identities.append((local, kind, namespace, value, source, verified, seen))
            if kind in (Identity.Kind.PHONE, Identity.Kind.EMAIL, Identity.Kind.WECHAT_UNIONID):
                setattr(person, {"wechat_unionid": "unionid"}.get(kind, kind), value)
            elif kind == Identity.Kind.TAOBAO_NICK:
                person.nick = value
        district = self.profiles.fill(rng, person, chunk, cal.start_ts)
        chunk.customers.append(
            (
                name,
                gender,
                birthday,
                province,
                city,
                district,
                occupation,
                primary.channel,
                seen,
                owner,
                seen,
                seen,
            )
        )
        self.browsing.events(rng, person, chunk)
        self._returns(rng, local, purchases, chunk)
        if index % DUPLICATE_EVERY == DUPLICATE_AT:
            self._duplicate(rng, person, chunk)

    def _order(
        self, rng, local: int, store: StoreInfo, ts: int, favourite: str | None, chunk: Chunk
    ) -> Purchase:
        cal = self.calendar
        day = (ts - cal.start_ts) // DAY
        offline = store.channel == "offline"
        age_days = (cal.anchor_ts - ts) / DAY
        r = rng.random()
        unpaid = 0.3 if age_days < 2 else 0.03  # old unpaid orders are the abandoned ones
        if offline:
            status = S.REFUNDED if r < 0.02 else S.COMPLETED
        elif r < unpaid:
            status = S.CREATED
        elif r < unpaid + 0.04:
            status = S.CANCELLED
        elif r < unpaid + 0.095 and age_days >= 3:
            status = S.REFUNDED
        else:
            status = S.COMPLETED
            for days, fresh in ((1, S.PAID), (4, S.SHIPPED), (10, S.DELIVERED)):
                if age_days < days:
                    status = fresh
                    break
        paid_ts = None
        if status not in (S.CREATED, S.CANCELLED):
            paid_ts = ts if offline else min(ts + 10 + int(rng.random() * 1800), cal.anchor_ts)

        discount = cal.discount[day]
        if discount == 100 and rng.random() < 0.3:
            discount = 95  # shop coupon
        catalogue = self.catalogues[store.unit_code]
        order_local = len(chunk.orders)
        chosen = set()
        amounts, quantities, products = [], [], []
        items = 0
        random = rng.random
        for _ in range(pick(random, *LINES)):
            if favourite and random() < 0.45:
                category = favourite
            else:
                category = pick(random, catalogue.categories, catalogue.category_weights)
            product = pick(random, catalogue.products[category], catalogue.product_weights[category])
            if product[0] in chosen:
                continue
            chosen.add(product[0])
            quantity = pick(random, *QUANTITIES)
            price = product[4] * discount // 100
            amounts.append(price * quantity)
            quantities.append(quantity)
            products.append((product, quantity))
            items += quantity
            chunk.lines.append(
                (
                    order_local,
                    product[0],
                    product[1],
                    product[2],
                    product[3],
                    quantity,
                    Decimal(price).scaleb(-2),
                    Decimal(price * quantity).scaleb(-2),
                    None if product[5] is None else Decimal(product[5]).scaleb(-2),
                )
            )
        total = sum(amounts)
        refunded, returned = 0, items
        if status == S.REFUNDED:
            if len(amounts) == 1 or rng.random() < 0.6:
                refunded = total
            else:
                line = rng.randrange(len(amounts))
                refunded, returned = amounts[line], quantities[line]
        elif status in Order.SALE_STATUSES:
            chunk.revenue_cents += total

        number, external_id = self._number(rng, store)
        devices = DEVICES[store.channel]
        placed = self.timestamp(ts)
        chunk.orders.append(
            (
                local,
                store.id,
                store.unit_id,
                store.source,
                external_id,
                number,
                status,
                pick(rng.random, *devices),
                Decimal(total).scaleb(-2),
                Decimal(refunded).scaleb(-2),
                items,
                placed,
                self.timestamp(paid_ts),
                placed,
            )
        )
        return Purchase(
            ts, store, status, total, products, order_local, number, external_id, paid_ts, refunded, returned
        )

    def _returns(self, rng, local: int, purchases: list[Purchase], chunk: Chunk) -> None:
        """A Return per refunded order (drawn after the orders, so they stay as they were)."""
        for purchase in purchases:
            if not purchase.refunded_cents or purchase.paid_ts is None:
                continue  # only paid orders are refunded
            # Goods come back (or the money goes back) within days of payment.
            back = min(purchase.paid_ts + DAY + int(rng.random() * 11 * DAY), self.calendar.anchor_ts)
            returned_at = self.timestamp(back)
            store = purchase.store
            number = f"{purchase.number}-R1" if store.channel == "shopify" else f"R{purchase.number}"
            chunk.returns.append(
                (
                    local,
                    purchase.order,
                    store.id,
                    store.unit_id,
                    store.source,
                    f"R{purchase.external_id}",
                    number,
                    Decimal(purchase.refunded_cents).scaleb(-2),
                    purchase.returned_items,
                    returned_at,
                    pick(rng.random, *REASONS),
                    returned_at,
                )
            )

    def _duplicate(self, rng, person: Person, chunk: Chunk) -> None:
        """A second profile of the same person, left behind by another store or sign-up; see the module."""
        bought = {p.store.channel for p in person.purchases}
        online_elsewhere = [s for s in self.stores if s.channel != "offline" and s.channel not in bought]
        masking_elsewhere = [s for s in online_elsewhere if s.channel in MASKING_CHANNELS]
        other_taobao = [s for s in self.stores if s.channel in TAOBAO_FAMILY and s.channel not in bought]
        if self.calendar.anchor_ts - person.first_seen < 2 * DAY:
            return  # no time left for a second profile to appear
        eligible = {
            "address": bool(person.address and online_elsewhere),
            "taobao_nick": bool(person.nick and len(bought & set(TAOBAO_FAMILY)) == 1 and other_taobao),
            "masked_phone": bool(person.phone.startswith("+861") and masking_elsewhere),
            "strong": bool(person.email or person.phone),
        }
        start = (person.index // DUPLICATE_EVERY) % len(DUPLICATE_KINDS)
        kinds = DUPLICATE_KINDS[start:] + DUPLICATE_KINDS[:start]
        kind = next((k for k in kinds if eligible[k]), None)
        if kind is None:
            return
        if kind == "address":
            store = rng.choice(online_elsewhere)
        elif kind == "masked_phone":
            store = rng.choice(masking_elsewhere)
        else:
            store = other_taobao[0] if kind == "taobao_nick" else person.primary
        cal = self.calendar
        local = len(chunk.customers)
        # Later than the original, so the original is the older profile and survives a merge.
        earliest = max(person.first_seen + 3600, cal.start_ts)
        day = (earliest - cal.start_ts) // DAY + int(rng.random() * ((cal.anchor_ts - earliest) // DAY + 1))
        times = []
        for n in range(1 + (rng.random() < 0.3)):
            when = cal.moment(
                rng, min(day + n * int(rng.random() * 30), cal.days - 1), store.channel == "offline"
            )
            times.append(min(max(when, earliest), cal.anchor_ts))
        times.sort()
        self._returns(rng, local, [self._order(rng, local, store, ts, None, chunk) for ts in times], chunk)
        first_seen = times[0]
        seen = self.timestamp(first_seen)
        if kind == "strong":
            value, value_kind = (
                (person.email, Identity.Kind.EMAIL) if person.email else (person.phone, Identity.Kind.PHONE)
            )
            # The same value in the store's namespace: identity resolution merges the two.
            identity = (value_kind, store.source, value, store.source, False)
        elif kind == "taobao_nick":
            identity = (Identity.Kind.TAOBAO_NICK, store.source, person.nick, store.source, True)
        else:
            identity = self.people.store_identity(rng, DUPLICATE_INDEX_OFFSET + person.index, store)
        chunk.identities.append((local, *identity, seen))
        if kind == "masked_phone":
            masked = f"{person.phone[3:6]}****{person.phone[-4:]}"
            chunk.hints.append((local, Identity.Kind.PHONE, "", masked, store.source, seen))
        district = ""
        if person.address and (kind == "address" or (kind == "taobao_nick" and rng.random() < 0.5)):
            receiver, phone, province, city, district, street, *_rest = person.address
            chunk.addresses.append(
                (local, receiver, phone, province, city, district, street, True, store.source, seen, seen)
            )
        chunk.links.append((local, store.unit_id, seen))
        chunk.customers.append(
            (
                person.name,
                person.gender,
                None,
                person.province,
                person.city,
                district,
                "",
                store.channel,
                seen,
                self.owners.get(store.channel),
                seen,
                seen,
            )
        )
        chunk.duplicates += 1
        if kind == "strong":
            chunk.strong_duplicates.append(local)

    def _number(self, rng, store: StoreInfo) -> tuple[str, str]:
        """(order number, external id) in the platform's format: unique per source, rising with the
        load's sequence (index inserts then land near each other) with random low digits."""
        seq = self.order_seq
        self.order_seq += 1
        base, step = NUMBERING[store.channel]
        number = str(base + seq * step + int(rng.random() * step))
        if store.channel == "shopify":
            self.store_counters[store.id] += 1
            return f"#{1000 + self.store_counters[store.id]}", number
        if store.channel in ("wechat_mp", "offline"):
            number = store.code + number
        return number, number
