"""The compiled SQL agrees with the plain-Python evaluator on random rule trees over random data.

The suite runs on SQLite and on PostgreSQL in CI, so this compares both databases with the same
specification. Values are drawn from small pools that sit on the data's boundaries (exact ages,
window edges, equal timestamps) where the two are most likely to disagree.
"""

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanxi.analytics.models import CustomerMetric
from guanxi.commerce.models import Event, Order, OrderLine
from guanxi.commerce.tests.factories import make_store
from guanxi.customers.models import (
    Consent,
    Customer,
    CustomerTag,
    CustomerUnit,
    CustomFieldDefinition,
    CustomFieldValue,
    Identity,
    Tag,
)
from guanxi.segments import rules
from guanxi.segments.compiler import Context, SegmentRef, compile_rule
from guanxi.segments.models import Segment, SegmentMembership
from guanxi.segments.tests.reference import Evaluator, load_world

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 1, 10, 30, tzinfo=SHANGHAI)
TODAY = NOW.date()
AMOUNTS = [Decimal("10.00"), Decimal("25.50"), Decimal("99.00"), Decimal("100.00"), Decimal("250.00")]
CATEGORIES = ["home_textiles", "bedding", "skincare"]
PROVINCES = ["上海", "广东", ""]
# Moments around the window edges the trees use: 1, 30, 90, 365 and 730 days, 24 hours.
OFFSETS = [
    timedelta(hours=1),
    timedelta(hours=23, minutes=59),
    timedelta(hours=24),
    timedelta(days=30),
    timedelta(days=89, hours=23),
    timedelta(days=90),
    timedelta(days=200),
    timedelta(days=365),
    timedelta(days=500),
    timedelta(days=730),
    timedelta(days=731),
]


def _birthday(rng: random.Random) -> date | None:
    choice = rng.random()
    if choice < 0.15:
        return None
    if choice < 0.25:
        return date(2000, 2, 29)
    years = rng.choice([24, 25, 26, 48, 49, 50, 35])
    day = TODAY.replace(year=TODAY.year - years)
    return day + timedelta(days=rng.choice([-1, 0, 1, 40]))


def _world(unit_a, unit_b, seed: int):
    rng = random.Random(seed)
    stores = [
        make_store(unit_a, "A1", "tmall"),
        make_store(unit_a, "A2", "jd"),
        make_store(unit_b, "B1", "offline"),
    ]
    tags = [Tag.objects.create(name=f"tag{i}") for i in range(3)]
    text_field = CustomFieldDefinition.objects.create(key="hobby", label="Hobby", type="text")
    number_field = CustomFieldDefinition.objects.create(key="points", label="Points", type="number")
    customers = []
    line_no = 0
    for index in range(18):
        customer = Customer.objects.create(
            name=f"c{index}",
            gender=rng.choice(["", "female", "male", "female"]),
            birthday=_birthday(rng),
            province=rng.choice(PROVINCES),
            city=rng.choice(["上海", "广州", ""]),
            source_channel=rng.choice(["tmall", "jd", ""]),
            first_seen_at=NOW - rng.choice(OFFSETS),
        )
        customers.append(customer)
        for unit in rng.sample([unit_a, unit_b], rng.randint(0, 2)):
            CustomerUnit.objects.create(customer=customer, unit=unit)
        for kind in rng.sample(["phone", "email", "wechat_unionid"], rng.randint(0, 2)):
            Identity.objects.create(customer=customer, kind=kind, value=f"{kind}-{index}")
        for channel in ("sms", "email"):
            moment = NOW - rng.choice(OFFSETS)
            for _ in range(rng.randint(0, 3)):
                Consent.objects.create(
                    customer=customer,
                    channel=channel,
                    state=rng.choice(["granted", "withdrawn"]),
                    method="api",
                    # Equal timestamps happen (imports): the later row wins.
                    recorded_at=moment if rng.random() < 0.5 else NOW - rng.choice(OFFSETS),
                )
        for tag in rng.sample(tags, rng.randint(0, 3)):
            CustomerTag.objects.create(customer=customer, tag=tag)
        if rng.random() < 0.6:
            CustomFieldValue.objects.create(
                customer=customer, definition=text_field, value=rng.choice(["跑步", "瑜伽"])
            )
        if rng.random() < 0.6:
            CustomFieldValue.objects.create(
                customer=customer, definition=number_field, value=rng.choice(["12.50", "100", "7"])
            )
        for unit in [None, unit_a, unit_b]:
            if rng.random() < 0.6:
                CustomerMetric.objects.create(
                    customer=customer,
                    unit=unit,
                    r_score=rng.choice([None, 1, 3, 5]),
                    rfm_segment=rng.choice(["", "champions", "at_risk"]),
                    predicted_clv=rng.choice([None, Decimal("50.00"), Decimal("500.00"), Decimal("1500.00")]),
                    churn_risk=rng.choice([None, 0.1, 0.5, 0.9]),
                    last_order_at=rng.choice([None, NOW - rng.choice(OFFSETS)]),
                    orders=rng.randint(0, 5),
                )
        for number in range(rng.randint(0, 4)):
            store = rng.choice(stores)
            order = Order.objects.create(
                store=store,
                unit=store.unit,
                customer=customer,
                source=store.source,
                external_id=f"{index}-{number}",
                number=f"{index}-{number}",
                status=rng.choice(["created", "paid", "completed", "cancelled"]),
                device=rng.choice(["mobile", "pc", ""]),
                total_amount=rng.choice(AMOUNTS),
                placed_at=NOW - rng.choice(OFFSETS),
            )
            for _ in range(rng.randint(1, 2)):
                line_no += 1
                OrderLine.objects.create(
                    order=order,
                    sku=rng.choice(["SKU-1", "SKU-2"]),
                    name="x",
                    category=rng.choice(CATEGORIES),
                    quantity=1,
                    unit_price=rng.choice(AMOUNTS),
                    amount=rng.choice(AMOUNTS),
                    line_no=line_no,
                )
        for number in range(rng.randint(0, 3)):
            store = rng.choice(stores)
            Event.objects.create(
                store=store,
                unit=store.unit,
                customer=customer,
                source=store.source,
                external_id=f"e{index}-{number}",
                kind=rng.choice(["browse", "add_to_cart"]),
                properties=rng.choice(
                    [{"category": "home_textiles", "price": 30}, {"category": "skincare", "price": "30"}, {}]
                ),
                occurred_at=NOW - rng.choice(OFFSETS),
            )
    static = Segment.objects.create(name="static", kind=Segment.Kind.STATIC)
    for customer in rng.sample(customers, 5):
        SegmentMembership.objects.create(segment=static, customer=customer)
    dynamic = Segment.objects.create(
        name="women",
        rule={"version": 1, "root": {"type": "profile", "field": "gender", "op": "eq", "value": "female"}},
    )
    return {
        "stores": [s.pk for s in stores],
        "tags": [t.pk for t in tags],
        "segments": [static.pk, dynamic.pk],
    }


def _window():
    return st.one_of(
        st.none(),
        st.builds(lambda a: {"type": "last", "amount": a, "unit": "days"}, st.sampled_from([1, 30, 90, 365])),
        st.just({"type": "last", "amount": 24, "unit": "hours"}),
        st.just({"type": "days_ago", "min_days": 365, "max_days": 730}),
        st.just({"type": "dates", "start": "2025-03-01", "end": "2025-12-01"}),
        st.just({"type": "dates", "start": "2025-11-12"}),
    )


def _conditions(ids):
    profile = st.one_of(
        st.builds(
            lambda op, v: {"type": "profile", "field": "gender", "op": op, "value": v},
            st.sampled_from(["eq", "ne"]),
            st.sampled_from(["female", "male"]),
        ),
        st.builds(
            lambda v: {"type": "profile", "field": "gender", "op": "in", "value": v},
            st.sampled_from([["female"], ["female", "male"]]),
        ),
        st.sampled_from(
            [
                {"type": "profile", "field": f, "op": op}
                for f in ("gender", "province", "age")
                for op in ("is_set", "is_not_set")
            ]
        ),
        st.builds(
            lambda op, v: {"type": "profile", "field": "age", "op": op, "value": v},
            st.sampled_from(["eq", "gt", "gte", "lt", "lte", "ne"]),
            st.sampled_from([24, 25, 26, 49, 50]),
        ),
        st.just({"type": "profile", "field": "age", "op": "between", "value": [25, 49]}),
        st.builds(
            lambda op, v: {"type": "profile", "field": "province", "op": op, "value": v},
            st.sampled_from(["eq", "ne"]),
            st.sampled_from(["上海", "广东"]),
        ),
        st.just({"type": "profile", "field": "city", "op": "not_in", "value": ["上海", "广州"]}),
        st.builds(
            lambda op, v: {"type": "profile", "field": "first_seen_at", "op": op, "value": v},
            st.sampled_from(["in_last_days", "before_days_ago"]),
            st.sampled_from([1, 30, 90, 365]),
        ),
        st.builds(
            lambda op, v: {"type": "profile", "field": "first_seen_at", "op": op, "value": v},
            st.sampled_from(["gte", "lte"]),
            st.sampled_from(["2025-03-01", "2026-01-30", "2026-02-28"]),
        ),
        st.builds(
            lambda op, v: {"type": "profile", "field": "birthday", "op": op, "value": v},
            st.sampled_from(["eq", "gt", "lt", "in_last_days"]),
            st.sampled_from(["2000-02-29", "2001-03-01"]),
        ).filter(lambda c: c["op"] != "in_last_days"),
    )
    metric = st.one_of(
        st.builds(
            lambda op, v: {"type": "metric", "field": "r_score", "op": op, "value": v},
            st.sampled_from(["eq", "gte", "lt", "ne"]),
            st.sampled_from([1, 3, 5]),
        ),
        st.builds(
            lambda op, v: {"type": "metric", "field": "predicted_clv", "op": op, "value": v},
            st.sampled_from(["gte", "lt", "eq"]),
            st.sampled_from([50, "500.00", 1000]),
        ),
        st.builds(
            lambda op, v: {"type": "metric", "field": "churn_risk", "op": op, "value": v},
            st.sampled_from(["gte", "lte"]),
            st.sampled_from([0.1, 0.5]),
        ),
        st.builds(
            lambda v: {"type": "metric", "field": "rfm_segment", "op": "in", "value": v},
            st.sampled_from([["champions"], ["at_risk", "champions"]]),
        ),
        st.sampled_from(
            [{"type": "metric", "field": f, "op": "is_set"} for f in ("rfm_segment", "predicted_clv")]
        ),
        st.builds(
            lambda op, v: {"type": "metric", "field": "last_order_at", "op": op, "value": v},
            st.sampled_from(["in_last_days", "before_days_ago"]),
            st.sampled_from([30, 365]),
        ),
        st.just({"type": "metric", "field": "orders", "op": "between", "value": [1, 3]}),
    )
    filters = st.fixed_dictionaries(
        {},
        optional={
            "stores": st.lists(st.sampled_from(ids["stores"]), min_size=1, max_size=2),
            "channels": st.lists(st.sampled_from(["tmall", "offline"]), min_size=1, max_size=1),
            "statuses": st.lists(st.sampled_from(["created", "paid", "completed"]), min_size=1, max_size=2),
            "categories": st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2),
            "products": st.just(["SKU-1"]),
            "devices": st.just(["mobile"]),
            "min_amount": st.sampled_from(["25.50", "100"]),
            "max_amount": st.sampled_from(["99.00", "250"]),
        },
    ).filter(
        lambda f: (
            not (
                "min_amount" in f
                and "max_amount" in f
                and f["min_amount"] == "100"
                and f["max_amount"] == "99.00"
            )
        )
    )
    orders = st.builds(
        lambda of, measure, op, value, window, f: {
            "type": "orders",
            "of": of,
            "measure": measure,
            "op": op,
            "value": value if op != "between" else [0, value],
            "window": window,
            "filters": f,
        },
        st.sampled_from(["orders", "lines"]),
        st.sampled_from(["count", "sum", "avg", "max"]),
        st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "between"]),
        st.sampled_from([0, 1, 2, 100]),
        _window(),
        filters,
    )
    events = st.builds(
        lambda kind, did, at_least, window, props: {
            "type": "event",
            "kind": kind,
            "did": did,
            "at_least": at_least,
            "window": window,
            "properties": props,
        },
        st.sampled_from(["browse", "add_to_cart"]),
        st.booleans(),
        st.sampled_from([1, 2]),
        _window(),
        st.sampled_from(
            [
                [],
                [{"key": "category", "op": "eq", "value": "home_textiles"}],
                [{"key": "category", "op": "in", "value": ["skincare", "bedding"]}],
                [{"key": "price", "op": "gte", "value": 30}],
                [{"key": "price", "op": "lte", "value": 29}],
                [{"key": "price", "op": "eq", "value": "30"}],
            ]
        ),
    )
    others = st.one_of(
        st.builds(
            lambda match, tags: {"type": "tags", "match": match, "tags": tags},
            st.sampled_from(["any", "all", "none"]),
            st.lists(st.sampled_from(ids["tags"]), min_size=1, max_size=2),
        ),
        st.builds(
            lambda kind, present: {"type": "identity", "kind": kind, "present": present},
            st.sampled_from(["phone", "email"]),
            st.booleans(),
        ),
        st.builds(
            lambda channel, state: {"type": "consent", "channel": channel, "state": state},
            st.sampled_from(["sms", "email"]),
            st.sampled_from(["granted", "withdrawn", "unknown"]),
        ),
        st.builds(
            lambda segment, member: {"type": "segment", "segment": segment, "member": member},
            st.sampled_from(ids["segments"]),
            st.booleans(),
        ),
        st.sampled_from(
            [
                {"type": "custom_field", "key": "hobby", "op": "eq", "value": "跑步"},
                {"type": "custom_field", "key": "hobby", "op": "is_not_set"},
                {"type": "custom_field", "key": "points", "op": "gte", "value": 12.5},
                {"type": "custom_field", "key": "points", "op": "lt", "value": 100},
                {"type": "custom_field", "key": "points", "op": "in", "value": [7, 100]},
                {"type": "custom_field", "key": "points", "op": "ne", "value": 12.5},
            ]
        ),
    )
    return st.one_of(profile, metric, orders, events, others)


def _trees(ids):
    return st.recursive(
        _conditions(ids),
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(lambda items: {"all": items}),
            st.lists(children, max_size=3).map(lambda items: {"any": items}),
            children.map(lambda item: {"not": item}),
        ),
        max_leaves=6,
    )


def _resolver(pk: int) -> SegmentRef | None:
    segment = Segment.objects.filter(pk=pk).first()
    return SegmentRef(segment.pk, segment.kind, segment.rule) if segment else None


@pytest.mark.parametrize("seed", [1, 2])
def test_compiled_rule_matches_the_reference_evaluator(db, unit_a, unit_b, seed):
    ids = _world(unit_a, unit_b, seed)
    world = load_world()
    scopes = [None, (unit_a.pk,)]

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(tree=_trees(ids))
    def check(tree):
        rule = rules.parse_rule({"version": 1, "root": tree})
        for unit_ids in scopes:
            context = Context(now=NOW, unit_ids=unit_ids, resolve_segment=_resolver)
            compiled = set(Customer.objects.filter(compile_rule(rule, context)).values_list("pk", flat=True))
            expected = Evaluator(world, NOW, unit_ids).members(rule)
            assert compiled == expected, (tree, unit_ids)

    check()
