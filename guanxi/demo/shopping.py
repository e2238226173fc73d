"""How demo customers buy: arrival, lifetime, purchase rate, stores, baskets and order states.

Each customer is a Poisson buyer in demand time (see seasons.py) with a gamma-distributed rate
(heavy-tailed: a few customers buy very often), an exponential active lifetime after which they
stop buying, and a first store; about one in eight also buys in a second store, some of them in
the other business unit. A chunk of customers becomes plain rows with chunk-local references
that the loader maps to database ids.
"""

import random
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate

from guanxi.commerce.models import Order
from guanxi.demo.people import PeopleMaker, pick
from guanxi.demo.seasons import DAY, DemandCalendar

EXISTING_SHARE = 0.25  # customers who bought before the window opened
ONE_TIMER_SHARE = 0.2
MEAN_LIFETIME_DAYS = 500
RATE_SHAPE, MEAN_RATE = 0.8, 1 / 45  # orders per (average) day while active
MULTI_STORE_SHARE, CROSS_UNIT_SHARE = 0.22, 0.35
SECOND_STORE_ORDER_SHARE = 0.3
MAX_ORDERS = 200
SEED_STRIDE = 10_000_019  # customers per seed before two seeds' streams could meet
LINES = ((1, 2, 3, 4), tuple(accumulate((55, 28, 12, 5))))
QUANTITIES = ((1, 2, 3, 4, 6), tuple(accumulate((80, 13, 5, 1.5, 0.5))))
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
    products: dict[str, list[tuple]]  # category -> [(id, sku, name, category, price in cents)]
    product_weights: dict[str, tuple[float, ...]]


@dataclass
class Chunk:
    """Rows of one chunk; customer and order references are positions in this chunk."""

    customers: list[tuple] = field(default_factory=list)
    identities: list[tuple] = field(default_factory=list)
    links: list[tuple] = field(default_factory=list)
    orders: list[tuple] = field(default_factory=list)
    lines: list[tuple] = field(default_factory=list)
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
    ):
        self.calendar, self.people, self.stores, self.catalogues = calendar, people, stores, catalogues
        self.timestamp = timestamp  # Unix time -> database value
        self.owners = owners  # store channel -> user id who owns customers first seen there
        self.store_weights = tuple(accumulate(s.weight for s in stores))
        self.order_seq = 0
        self.store_counters = {s.id: 0 for s in stores}

    def chunk(self, seed: int, first_index: int, count: int) -> Chunk:
        chunk = Chunk()
        rng = random.Random()
        for local in range(count):
            # One stream per customer: the data do not depend on the chunk size.
            rng.seed(seed * SEED_STRIDE + first_index + local)
            self._customer(rng, first_index + local, local, chunk)
        return chunk

    def _customer(self, rng, index: int, local: int, chunk: Chunk) -> None:
        cal = self.calendar
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
            self._order(rng, local, store, ts, favourite if store.unit_code == code else None, chunk)

        name, gender, birthday, province, city, occupation = self.people.profile(rng, code)
        seen = self.timestamp(first_seen)
        owner = self.owners.get(primary.channel)
        chunk.customers.append(
            (name, gender, birthday, province, city, occupation, primary.channel, seen, owner, seen, seen)
        )
        for unit_id, ts in units.items():
            link_seen = first_seen if unit_id == primary.unit_id else ts
            chunk.links.append((local, unit_id, self.timestamp(link_seen)))
        for kind, namespace, value, source, verified in self.people.identities(rng, index, sources):
            chunk.identities.append((local, kind, namespace, value, source, verified, seen))

    def _order(self, rng, local: int, store: StoreInfo, ts: int, favourite: str | None, chunk: Chunk) -> None:
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
        amounts = []
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
                )
            )
        total = sum(amounts)
        refunded = 0
        if status == S.REFUNDED:
            refunded = total if len(amounts) == 1 or rng.random() < 0.6 else rng.choice(amounts)
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
