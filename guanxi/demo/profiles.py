"""What a CRM knows about demo customers beyond their orders: addresses, consent, tags, fields, notes.

Every draw comes from the customer's own seeded generator, after the orders and identities, so
adding these rows leaves the orders of a seed as they were. Rows are plain tuples in database
form with chunk-local customer references, like the rest of a chunk.
"""

import json
from datetime import datetime, timedelta
from itertools import accumulate

from guanxi.customers.models import Consent, ConsentChannel
from guanxi.demo.people import PeopleMaker, Person, _permute, pick
from guanxi.demo.reference import (
    COMMUNITIES,
    DISTRICTS,
    GIVEN_FEMALE,
    GIVEN_MALE,
    MAKEUP,
    NOTES,
    OFFICES,
    ROAD_PARTS,
    ROADS,
    SKIN_TYPES,
    SKINCARE,
)
from guanxi.demo.seasons import DAY, SHANGHAI

SMS_AT_CHECKOUT = "下单时勾选接收短信"
CHECKOUT_WORDING = "我同意接收订单通知及优惠活动短信，回复TD退订"
# (share granted, share of those withdrawn later)
SMS_RATES, EMAIL_RATES, WECHAT_RATES = (0.85, 0.12), (0.6, 0.15), (0.7, 0.1)
VIP_SPEND_CENTS = 800_000
NEW_DAYS = 180
NOTE_SHARE, COUNTER_NOTE_SHARE = 0.015, 0.12
ADDRESS_COUNTS = ((1, 2, 3), tuple(accumulate((72, 22, 6))))

C = ConsentChannel
M = Consent.Method
GRANTED, WITHDRAWN = Consent.State.GRANTED, Consent.State.WITHDRAWN


JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one encoder, not one per row


def as_json(value) -> str:
    return JSON.encode(value)


class ProfileMaker:
    """Fills a chunk's address, consent, tag, custom value and note rows for one person at a time."""

    def __init__(
        self,
        people: PeopleMaker,
        anchor_ts: int,
        timestamp,
        tag_ids: dict[str, int],
        field_ids: dict[str, int],
        users: dict[str, int],
    ):
        self.people, self.anchor_ts, self.timestamp = people, anchor_ts, timestamp
        self.tag_ids, self.field_ids, self.users = tag_ids, field_ids, users
        self.new_since = anchor_ts - NEW_DAYS * DAY
        self.skin_types = (tuple(s[0] for s in SKIN_TYPES), tuple(accumulate(s[1] for s in SKIN_TYPES)))
        self.districts = {city: names.split() for city, names in DISTRICTS.items()}
        self.anchor_date = datetime.fromtimestamp(anchor_ts, SHANGHAI).date()

    def fill(self, rng, person: Person, chunk, window_start: int) -> str:
        """Append the person's rows to the chunk; returns the district of the default address."""
        self._addresses(rng, person, chunk)
        self._consents(rng, person, chunk)
        tags = self._tags(rng, person, chunk, window_start)
        self._custom_values(rng, person, chunk, tags)
        self._note(rng, person, chunk)
        return person.address[4] if person.address else ""

    # --- addresses -------------------------------------------------------------------------------

    def _addresses(self, rng, person: Person, chunk) -> None:
        online = any(p.store.channel != "offline" for p in person.purchases)
        if not online and rng.random() >= 0.3:  # counter customers rarely leave an address
            return
        count = pick(rng.random, *ADDRESS_COUNTS)
        phone = person.phone[3:] if person.phone.startswith("+86") else self.people.mobile(rng)
        seen = self.timestamp(person.first_seen)
        for n in range(count):
            receiver, receiver_phone = person.name, phone
            province, city = person.province, person.city
            created = seen
            if n:
                if rng.random() < 0.45:  # parents, a partner: another name, often another city
                    given = GIVEN_FEMALE if rng.random() < 0.5 else GIVEN_MALE
                    receiver = person.name[0] + rng.choice(given) + rng.choice(given)
                    receiver_phone = self.people.mobile(rng)
                    if rng.random() < 0.4:
                        province, city = self.people.place(rng)
                created = self.timestamp(
                    rng.choice(person.purchases).ts if person.purchases else person.first_seen
                )
            row = (
                receiver,
                receiver_phone,
                province,
                city,
                *self._place(rng, city, office=n > 0 and receiver == person.name),
                n == 0,
                person.primary.source,
                created,
                created,
            )
            if n == 0:
                person.address = row
            chunk.addresses.append((person.local, *row))

    def _place(self, rng, city: str, office: bool) -> tuple[str, str]:
        """(district, street): a residential compound, or an office tower for a work address."""
        random = rng.random  # int(random() * n): randint is several times slower on this hot path

        def one_of(values):
            return values[int(random() * len(values))]

        districts = self.districts[city]
        district = districts[0] if random() < 0.35 else one_of(districts)
        road = f"{one_of(ROADS)[:-1]}{one_of(ROAD_PARTS)}路{1 + int(random() * 999)}号"
        if office:
            return district, f"{road}{one_of(OFFICES)}{2 + int(random() * 37)}层"
        compound = f"{one_of(COMMUNITIES)}{1 + int(random() * 30)}栋{1 + int(random() * 6)}单元"
        return district, f"{road}{compound}{1 + int(random() * 32)}{1 + int(random() * 6):02d}室"

    # --- consent ---------------------------------------------------------------------------------

    def _consents(self, rng, person: Person, chunk) -> None:
        # Given with the first order: a new customer's first_seen, or before the window for older ones.
        first = person.first_seen
        unit = person.primary.unit_id
        counter = person.primary.channel == "offline"
        if person.phone and rng.random() < SMS_RATES[0]:
            if counter:
                granted = (M.WRITTEN, "门店会员登记表勾选接收短信", "会员登记表")
            else:
                granted = (M.CHECKBOX, SMS_AT_CHECKOUT, CHECKOUT_WORDING)
            withdrawn = (M.REPLY, "短信回复退订", "TD")
            self._channel(rng, person, chunk, C.SMS, first, unit, granted, withdrawn, SMS_RATES[1])
        if person.email and rng.random() < EMAIL_RATES[0]:
            if person.primary.channel == "shopify":
                granted = (M.DOUBLE_OPT_IN, "订阅确认邮件中点击确认链接", "double opt-in confirmed")
            else:
                granted = (M.CHECKBOX, "注册时勾选接收邮件资讯", "我愿意接收新品与会员活动邮件")
            withdrawn = (M.UNSUBSCRIBE_LINK, "邮件底部退订链接", "")
            self._channel(rng, person, chunk, C.EMAIL, first, unit, granted, withdrawn, EMAIL_RATES[1])
        if person.unionid and rng.random() < WECHAT_RATES[0]:
            granted = (M.API, "关注公众号并同意接收服务通知", "subscribe")
            withdrawn = (M.API, "取消关注公众号", "unsubscribe")
            self._channel(rng, person, chunk, C.WECHAT, first, unit, granted, withdrawn, WECHAT_RATES[1])

    def _channel(self, rng, person, chunk, channel, at, unit, granted, withdrawn, withdraw_share) -> None:
        method, source, evidence = granted
        chunk.consents.append(
            (person.local, channel, GRANTED, self.timestamp(at), method, source, evidence, unit)
        )
        room = self.anchor_ts - at
        if room > 2 * DAY and rng.random() < withdraw_share:
            method, source, evidence = withdrawn
            later = at + DAY + int(rng.random() * (room - DAY))
            chunk.consents.append(
                (person.local, channel, WITHDRAWN, self.timestamp(later), method, source, evidence, unit)
            )

    # --- tags ------------------------------------------------------------------------------------

    def _tags(self, rng, person: Person, chunk, window_start: int) -> set[str]:
        purchases = person.purchases
        random = rng.random
        spend = sum(p.total_cents for p in purchases if p.status != "refunded")
        by_unit = {"home": 0, "beauty": 0}
        for purchase in purchases:
            by_unit[purchase.store.unit_code] += 1
        tags = set()
        if spend >= VIP_SPEND_CENTS and random() < 0.8:
            tags.add("VIP")
        if len(purchases) >= 2 and purchases[0].ts >= self.new_since and random() < 0.6:
            tags.add("高潜力")
        baby = person.occupation == "全职妈妈" or any(
            product[2].startswith("儿童") for p in purchases for product, _qty in p.products
        )
        if baby and random() < 0.5:
            tags.add("母婴")
        if by_unit["beauty"] >= 3 and person.favourite in (MAKEUP, SKINCARE) and random() < 0.6:
            tags.add("美妆达人")
        if by_unit["home"] >= 4 and random() < 0.35:
            tags.add("家居控")
        if person.primary.channel in ("tmall", "taobao", "jd") and random() < 0.08:
            tags.add("直播间")
        if person.first_seen >= window_start and random() < 0.05:
            tags.add("老客推荐")
        marketer = self.users["marketer"]
        for name in sorted(tags):
            start = purchases[0].ts if purchases else person.first_seen
            added = start + int(random() * max(self.anchor_ts - start, 1))
            chunk.tags.append((person.local, self.tag_ids[name], self.timestamp(added), marketer))
        return tags

    # --- custom fields and notes -----------------------------------------------------------------

    def _custom_values(self, rng, person: Person, chunk, tags: set[str]) -> None:
        channels = {p.store.channel: p.ts for p in reversed(person.purchases)}  # channel -> first order
        if "offline" in channels or ("wechat_mp" in channels and rng.random() < 0.3):
            card = f"GX{_permute(person.index, 10**10, 2_862_933_555_777, 3_037_000_493):010d}"
            at = channels["offline"] if "offline" in channels else channels["wechat_mp"]
            self._value(
                chunk, person, "member_card", card, at, self.users["sales"] if "offline" in channels else None
            )
        beauty = [p.ts for p in person.purchases if p.store.unit_code == "beauty"]
        if beauty and rng.random() < 0.35:
            skin = pick(rng.random, *self.skin_types)
            self._value(
                chunk,
                person,
                "skin_type",
                skin,
                beauty[0],
                self.users["sales"] if "offline" in channels else None,
            )
        if "母婴" in tags and rng.random() < 0.8:
            born = self.anchor_date - timedelta(days=rng.randint(30, 3 * 365))
            at = person.purchases[-1].ts if person.purchases else person.first_seen
            self._value(chunk, person, "baby_birthday", born.isoformat(), at, self.users["service"])

    def _value(self, chunk, person: Person, key: str, value, at: int, by: int | None) -> None:
        chunk.custom_values.append(
            (person.local, self.field_ids[key], as_json(value), self.timestamp(at), by)
        )

    def _note(self, rng, person: Person, chunk) -> None:
        counter = [p for p in person.purchases if p.store.channel == "offline"]
        if counter and rng.random() < COUNTER_NOTE_SHARE:
            visit = rng.choice(counter)
            body, author = rng.choice(NOTES["sales"]), self.users["sales"]
        elif person.purchases and rng.random() < NOTE_SHARE:
            visit = rng.choice(person.purchases)
            body, author = rng.choice(NOTES["service"]), self.users["service"]
        else:
            return
        at = min(visit.ts + int(rng.random() * 3 * DAY), self.anchor_ts)
        chunk.notes.append((person.local, visit.store.unit_id, author, body, self.timestamp(at)))
