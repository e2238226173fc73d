"""Who the demo customers are: names, ages, places, jobs and the identifiers each channel knows them by.

Identifier values must be unique per kind, so each is built from the customer's generation index
through a bijection (index × odd multiplier + offset, modulo a power of ten) and only decorated
with random parts; no two customers of one load can collide.
"""

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from typing import Any

from guanxi.customers.models import Gender, Identity
from guanxi.demo.reference import (
    EMAIL_DOMAINS,
    EMAIL_HANDLES,
    GIVEN_FEMALE,
    GIVEN_MALE,
    GIVEN_NEUTRAL,
    NICK_WORDS,
    OCCUPATIONS,
    PHONE_PREFIXES,
    PROVINCES,
    SURNAMES,
)

ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
FEMALE_SHARE = {"home": 0.66, "beauty": 0.86}


@dataclass
class Purchase:
    """One order as the rest of the generator needs it: when, where, and what was bought."""

    ts: int
    store: Any  # shopping.StoreInfo
    status: str
    total_cents: int
    products: list[tuple]  # (product, quantity); product is (id, sku, name, category, price in cents)
    order: int = 0  # position of the order row in its chunk
    number: str = ""
    external_id: str = ""
    paid_ts: int | None = None
    refunded_cents: int = 0
    returned_items: int = 0


@dataclass
class Person:
    """What one simulated customer did and is known by, for the profile extras, events and duplicates."""

    local: int  # position of the customer row in its chunk
    index: int  # generation index across the load
    name: str
    gender: str
    province: str
    city: str
    occupation: str
    primary: Any  # shopping.StoreInfo
    second: Any
    first_seen: int
    favourite: str
    active_recently: bool  # still buying in the last weeks before the anchor
    purchases: list[Purchase] = field(default_factory=list)
    phone: str = ""
    email: str = ""
    unionid: str = ""
    nick: str = ""
    address: tuple | None = None  # the default address as written (receiver … street)

    @property
    def stores(self) -> set[int]:
        return {purchase.store.id for purchase in self.purchases}


def _weighted(pairs):
    values = tuple(p[0] for p in pairs)
    return values, tuple(accumulate(p[1] for p in pairs))


def pick(random, values, cum_weights):
    """random.choices(values, cum_weights=...)[0] without the list: the generator's hot path."""
    return values[bisect_right(cum_weights, random() * cum_weights[-1])]


def _permute(index: int, modulus: int, multiplier: int, offset: int) -> int:
    """A bijection on [0, modulus): multiplier must be coprime with the modulus (odd, not ×5)."""
    return (index * multiplier + offset) % modulus


def _encode(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 64)
        chars.append(ID_ALPHABET[digit])
    return "".join(chars)


class PeopleMaker:
    """Draws profiles and identities; every draw comes from the caller's seeded generator."""

    def __init__(self, anchor: date):
        self.anchor = anchor
        self.surnames = _weighted(SURNAMES)
        self.provinces = _weighted(PROVINCES)
        self.cities = {name: _weighted(cities) for name, _weight, cities in PROVINCES}
        self.occupations = _weighted(OCCUPATIONS)
        self.prefixes = _weighted(PHONE_PREFIXES)
        self.domains = _weighted(EMAIL_DOMAINS)

    def profile(self, rng, unit_code: str) -> tuple:
        """(name, gender, birthday, province, city, occupation)."""
        r = rng.random()
        female_share = FEMALE_SHARE.get(unit_code, 0.7)
        gender = (
            Gender.UNKNOWN if r < 0.04 else Gender.FEMALE if r < 0.04 + 0.96 * female_share else Gender.MALE
        )
        surname = pick(rng.random, *self.surnames)
        pool = (
            GIVEN_FEMALE
            if gender == Gender.FEMALE
            else GIVEN_MALE
            if gender == Gender.MALE
            else GIVEN_NEUTRAL
        )
        given = (
            rng.choice(pool) if rng.random() < 0.25 else rng.choice(pool) + rng.choice(pool + GIVEN_NEUTRAL)
        )
        birthday = None
        if rng.random() >= 0.2:
            age = int(rng.triangular(18, 66, 29 if unit_code == "beauty" else 34))
            birthday = self.anchor - timedelta(days=int(age * 365.25) + rng.randrange(365))
        province = pick(rng.random, *self.provinces)
        cities = self.cities[province]
        city = pick(rng.random, *cities)
        occupation = pick(rng.random, *self.occupations) if rng.random() < 0.7 else ""
        return surname + given, gender, birthday, province, city, occupation

    def identities(self, rng, index: int, sources: dict[str, str]) -> list[tuple]:
        """(kind, namespace, value, source, verified) for each identifier the customer's channels know.

        `sources` maps each channel the customer bought in to the store's source, first store first.
        """
        channels = sources.keys()
        first_source = next(iter(sources.values()))
        found = []
        if "shopify" not in channels or len(channels) > 1 or rng.random() < 0.6:
            prefix = pick(rng.random, *self.prefixes)
            phone = f"+86{prefix}{_permute(index, 10**8, 73_856_093, 19_260_817):08d}"
            found.append((Identity.Kind.PHONE, "", phone, first_source, rng.random() < 0.8))
        if rng.random() < (0.75 if "shopify" in channels else 0.27):
            domain = pick(rng.random, *self.domains)
            if domain == "qq.com":
                local = str(100_000_000 + _permute(index, 10**9, 192_837_463, 7_654_321))
            else:
                local = f"{rng.choice(EMAIL_HANDLES)}{_permute(index, 10**8, 83_492_791, 1_234_567):08d}"
            found.append((Identity.Kind.EMAIL, "", f"{local}@{domain}", first_source, False))
        if "wechat_mp" in channels or rng.random() < 0.33:
            unionid = (
                "o"
                + "".join(rng.choices(ID_ALPHABET, k=9))
                + _encode(index, 5)
                + "".join(rng.choices(ID_ALPHABET, k=13))
            )
            found.append(
                (Identity.Kind.WECHAT_UNIONID, "", unionid, sources.get("wechat_mp", first_source), True)
            )
        taobao = sources.get("tmall") or sources.get("taobao")
        if taobao:
            if rng.random() < 0.5:
                nick = f"tb{_permute(index, 10**10, 2_654_435_761, 98_765_431):010d}"
            else:
                nick = f"{rng.choice(NICK_WORDS)}{_permute(index, 10**8, 40_503_701, 31_415_926):08d}"
            # Nicks are per platform account, stored in the store's namespace as the importers do.
            found.append((Identity.Kind.TAOBAO_NICK, taobao, nick, taobao, True))
        shopify = sources.get("shopify")
        if shopify:
            shopify_id = f"7{_permute(index, 10**12, 6_364_136_223, 1_442_695_041):012d}"
            found.append((Identity.Kind.SHOPIFY_ID, shopify, shopify_id, shopify, True))
        return found

    def store_identity(self, rng, index: int, store) -> tuple:
        """The one identifier a store knows a customer by on a first visit (for duplicate profiles)."""
        if store.channel in ("tmall", "taobao"):
            nick = f"{rng.choice(NICK_WORDS)}{_permute(index, 10**8, 40_503_701, 31_415_926):08d}"
            return (Identity.Kind.TAOBAO_NICK, store.source, nick, store.source, True)
        if store.channel == "wechat_mp":
            unionid = (
                "o"
                + "".join(rng.choices(ID_ALPHABET, k=9))
                + _encode(index, 5)
                + "".join(rng.choices(ID_ALPHABET, k=13))
            )
            return (Identity.Kind.WECHAT_UNIONID, "", unionid, store.source, True)
        if store.channel == "shopify":
            shopify_id = f"7{_permute(index, 10**12, 6_364_136_223, 1_442_695_041):012d}"
            return (Identity.Kind.SHOPIFY_ID, store.source, shopify_id, store.source, True)
        # JD and the till: the platform's account id (JD pin, member number).
        return (
            Identity.Kind.EXTERNAL_ID,
            store.source,
            f"{store.code.lower()}_{_encode(index, 6)}",
            store.source,
            True,
        )

    def place(self, rng) -> tuple[str, str]:
        """Another province and city, for an address away from home."""
        province = pick(rng.random, *self.provinces)
        return province, pick(rng.random, *self.cities[province])

    def mobile(self, rng) -> str:
        """A random mobile number in national form (a family member's, on an address)."""
        return f"{pick(rng.random, *self.prefixes)}{int(rng.random() * 10**8):08d}"
