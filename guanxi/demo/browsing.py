"""Behavioural events of demo customers in the weeks before the anchor: browsing, carts, checkouts.

Orders placed online in that window get the visit that led to them (product views, add to cart,
checkout started a few minutes before the order). Besides, customers who are still buying come
back to look around: some of those visits put things in the cart and a few start checking out,
and none of them ends in an order; these are the abandoned carts that segments look for.
"""

import math

from guanxi.commerce.models import Event
from guanxi.demo.people import Person, pick
from guanxi.demo.profiles import as_json
from guanxi.demo.seasons import DAY, DemandCalendar

EVENT_DAYS = 60
FUNNEL_LEAD = 2700  # seconds
FUNNEL_SHARE = 0.7  # orders whose visit the store tracked (the rest came from links, the app…)
VISITS_ACTIVE, VISITS_LAPSED = 1.4, 0.12  # mean visits without an order in the window
CART_SHARE, CHECKOUT_SHARE = 0.4, 0.3
K = Event.Kind
NAMES: dict[str, str] = {
    K.BROWSE: "view_item",
    K.ADD_TO_CART: "add_to_cart",
    K.CHECKOUT_STARTED: "begin_checkout",
}


class Browsing:
    """Appends one person's events to a chunk; the event counter runs across chunks for unique ids."""

    def __init__(self, calendar: DemandCalendar, catalogues: dict, timestamp):
        self.calendar, self.catalogues, self.timestamp = calendar, catalogues, timestamp
        self.since = calendar.anchor_ts - EVENT_DAYS * DAY
        self.first_day = max(calendar.days - EVENT_DAYS, 0)
        self.seq = self.carts = 0

    def events(self, rng, person: Person, chunk) -> None:
        random = rng.random
        for purchase in person.purchases:
            # The funnel starts up to FUNNEL_LEAD seconds before the order, inside the event window.
            if (
                purchase.ts - FUNNEL_LEAD < self.since
                or purchase.store.channel == "offline"
                or random() >= FUNNEL_SHARE
            ):
                continue
            store = purchase.store
            ts = purchase.ts - 300 - int(random() * (FUNNEL_LEAD - 300))
            cart = self._cart_id()
            for product, _quantity in purchase.products:
                ts = self._add(chunk, person, store, K.BROWSE, ts, self._item(product), rng)
            if random() < 0.5:
                ts = self._add(
                    chunk, person, store, K.BROWSE, ts, self._item(self._product(rng, store, person)), rng
                )
            for product, quantity in purchase.products:
                ts = self._add(
                    chunk, person, store, K.ADD_TO_CART, ts, self._line(product, quantity, cart), rng
                )
            checkout = {"cart_id": cart, "value": purchase.total_cents / 100, "currency": "CNY"}
            self._add(
                chunk,
                person,
                store,
                K.CHECKOUT_STARTED,
                purchase.ts - 30 - int(random() * 150),
                checkout,
                rng,
            )

        stores = [s for s in (person.primary, person.second) if s is not None and s.channel != "offline"]
        if not stores:
            return
        # Poisson number of visits without an order, by inversion (a handful at most).
        mean = VISITS_ACTIVE if person.active_recently else VISITS_LAPSED
        u, visits, p = random(), 0, math.exp(-mean)
        cumulative = p
        while u > cumulative and visits < 8:
            visits += 1
            p *= mean / visits
            cumulative += p
        cal = self.calendar
        for _ in range(visits):
            store = stores[0] if len(stores) == 1 or random() < 0.7 else stores[1]
            day = self.first_day + int(random() * (cal.days - self.first_day))
            ts = max(cal.moment(rng, day, False), person.first_seen)
            viewed = [self._product(rng, store, person) for _ in range(1 + int(random() * 5))]
            for product in viewed:
                ts = self._add(chunk, person, store, K.BROWSE, ts, self._item(product), rng)
            if random() >= CART_SHARE:
                continue
            cart, value = self._cart_id(), 0
            for product in {p[0]: p for p in viewed[: 1 + int(random() * 2)]}.values():
                ts = self._add(chunk, person, store, K.ADD_TO_CART, ts, self._line(product, 1, cart), rng)
                value += product[4]
            if random() < CHECKOUT_SHARE:
                checkout = {"cart_id": cart, "value": value / 100, "currency": "CNY"}
                self._add(chunk, person, store, K.CHECKOUT_STARTED, ts, checkout, rng)

    def _product(self, rng, store, person: Person) -> tuple:
        catalogue = self.catalogues[store.unit_code]
        if store.unit_code == person.primary.unit_code and rng.random() < 0.5:
            category = person.favourite
        else:
            category = pick(rng.random, catalogue.categories, catalogue.category_weights)
        return pick(rng.random, catalogue.products[category], catalogue.product_weights[category])

    def _cart_id(self) -> str:
        self.carts += 1
        return f"cart-{self.carts:010d}"

    @staticmethod
    def _item(product: tuple) -> dict:
        return {"sku": product[1], "category": product[3], "price": product[4] / 100, "currency": "CNY"}

    @staticmethod
    def _line(product: tuple, quantity: int, cart: str) -> dict:
        return {
            "cart_id": cart,
            "sku": product[1],
            "category": product[3],
            "price": product[4] / 100,
            "quantity": quantity,
            "currency": "CNY",
        }

    def _add(self, chunk, person: Person, store, kind: str, ts: int, properties: dict, rng) -> int:
        """Append one event at ts (never after the anchor); returns the time of the next click."""
        ts = min(ts, self.calendar.anchor_ts)
        self.seq += 1
        at = self.timestamp(ts)
        # Received within the second it happened (the store's tracker sends at once).
        chunk.events.append(
            (
                person.local,
                store.id,
                store.unit_id,
                store.source,
                f"ev-{self.seq:012d}",
                kind,
                NAMES[kind],
                as_json(properties),
                at,
                at,
            )
        )
        return ts + 15 + int(rng.random() * 180)
