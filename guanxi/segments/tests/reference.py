"""A plain-Python evaluator of rule trees: the specification the compiled SQL is checked against.

It reads every table once into memory and decides membership customer by customer, written
independently of the compiler (no Q objects, no shared helpers beyond the rule models).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from guanxi.analytics.models import CustomerMetric
from guanxi.commerce.models import Event, Order, OrderLine
from guanxi.customers.models import Consent, Customer, CustomerTag, CustomFieldValue, Identity
from guanxi.segments import rules
from guanxi.segments.catalogue import METRIC_FIELDS, PROFILE_FIELDS
from guanxi.segments.models import Segment, SegmentMembership


@dataclass
class World:
    customers: dict[int, Customer]
    identities: set[tuple[int, str]]
    consents: dict[tuple[int, str], list[tuple[datetime, int, str]]]
    tags: dict[int, set[int]]
    metrics: dict[int, list[CustomerMetric]]
    orders: list[dict]
    events: list[Event]
    custom: dict[tuple[int, str], Any]
    custom_types: dict[str, str]
    segments: dict[int, Segment]
    static_members: dict[int, set[int]] = field(default_factory=dict)


def load_world() -> World:
    lines = defaultdict(list)
    for line in OrderLine.objects.all():
        lines[line.order_id].append(line)
    orders = [
        {"order": order, "channel": order.store.channel, "lines": lines[order.pk]}
        for order in Order.objects.select_related("store").filter(customer__isnull=False)
    ]
    consents: dict = defaultdict(list)
    for consent in Consent.objects.all():
        consents[(consent.customer_id, consent.channel)].append(
            (consent.recorded_at, consent.pk, consent.state)
        )
    tags: dict = defaultdict(set)
    for customer_tag in CustomerTag.objects.all():
        tags[customer_tag.customer_id].add(customer_tag.tag_id)
    metrics: dict = defaultdict(list)
    for metric in CustomerMetric.objects.all():
        metrics[metric.customer_id].append(metric)
    static: dict = defaultdict(set)
    for membership in SegmentMembership.objects.filter(exited_at__isnull=True):
        static[membership.segment_id].add(membership.customer_id)
    custom = {}
    types = {}
    for value in CustomFieldValue.objects.select_related("definition"):
        custom[(value.customer_id, value.definition.key)] = value.value
        types[value.definition.key] = value.definition.type
    return World(
        customers={c.pk: c for c in Customer.objects.all()},
        identities=set(Identity.objects.values_list("customer_id", "kind")),
        consents=consents,
        tags=tags,
        metrics=metrics,
        orders=orders,
        events=list(Event.objects.filter(customer__isnull=False)),
        custom=custom,
        custom_types=types,
        segments={s.pk: s for s in Segment.objects.all()},
        static_members=static,
    )


class Evaluator:
    def __init__(self, world: World, now: datetime, unit_ids: tuple[int, ...] | None = None) -> None:
        self.world = world
        self.now = now
        self.unit_ids = unit_ids
        self.zone = ZoneInfo(settings.TIME_ZONE)
        self.today = now.astimezone(self.zone).date()

    def members(self, rule: rules.Rule) -> set[int]:
        return {pk for pk in self.world.customers if self.holds(rule.root, pk)}

    def holds(self, node: Any, pk: int) -> bool:
        if isinstance(node, rules.AllGroup):
            return all(self.holds(child, pk) for child in node.all)
        if isinstance(node, rules.AnyGroup):
            return any(self.holds(child, pk) for child in node.any)
        if isinstance(node, rules.NotGroup):
            return not self.holds(node.not_, pk)
        method = getattr(self, f"_{node.type}")
        return method(node, pk)

    # Values.

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.zone)

    def _compare(self, spec, op: str, actual: Any, value: Any) -> bool:
        if op == "ne":
            return not self._compare(spec, "eq", actual, value)
        if op == "not_in":
            return not self._compare(spec, "in", actual, value)
        known = actual is not None and actual != ""
        if op == "is_set":
            return known
        if op == "is_not_set":
            return not known
        if not known:
            return False
        if spec.key == "age":
            actual = self._age(actual)
        elif spec.kind == "date":
            return self._compare_date(spec, op, actual, value)
        elif spec.kind == "number":
            actual = Decimal(str(actual))
            value = [Decimal(str(v)) for v in value] if isinstance(value, list) else Decimal(str(value))
        return self._plain(op, actual, value)

    @staticmethod
    def _plain(op: str, actual: Any, value: Any) -> bool:
        if op == "in":
            return actual in value
        if op == "between":
            return value[0] <= actual <= value[1]
        return {
            "eq": actual == value,
            "ne": actual != value,
            "gt": actual > value,
            "gte": actual >= value,
            "lt": actual < value,
            "lte": actual <= value,
        }[op]

    def _age(self, birthday: date) -> int:
        # A 29 February birthday comes round on 1 March in other years.
        before_birthday = (self.today.month, self.today.day) < (birthday.month, birthday.day)
        return self.today.year - birthday.year - before_birthday

    def _compare_date(self, spec, op: str, actual: Any, value: Any) -> bool:
        if op in ("in_last_days", "before_days_ago"):
            if spec.timestamp:
                moment_edge, moment_upper = self.now - timedelta(days=value), self.now
                return (
                    actual < moment_edge if op == "before_days_ago" else moment_edge <= actual <= moment_upper
                )
            edge, upper = self.today - timedelta(days=value), self.today
            return actual < edge if op == "before_days_ago" else edge <= actual <= upper
        day = actual.astimezone(self.zone).date() if spec.timestamp else actual
        if op == "in":
            return day in {date.fromisoformat(v) for v in value}
        if op == "between":
            return date.fromisoformat(value[0]) <= day <= date.fromisoformat(value[1])
        return self._plain(op, day, date.fromisoformat(value))

    def _in_window(self, moment: datetime, window: Any) -> bool:
        if window is None:
            return True
        if isinstance(window, rules.LastWindow):
            delta = timedelta(days=window.amount) if window.unit == "days" else timedelta(hours=window.amount)
            return self.now - delta <= moment <= self.now
        if isinstance(window, rules.DaysAgoWindow):
            return (
                self.now - timedelta(days=window.max_days)
                <= moment
                < self.now - timedelta(days=window.min_days)
            )
        if window.start and moment < self._midnight(window.start):
            return False
        return not (window.end and moment >= self._midnight(window.end + timedelta(days=1)))

    # Conditions.

    def _profile(self, node, pk: int) -> bool:
        spec = PROFILE_FIELDS[node.field]
        return self._compare(spec, node.op, getattr(self.world.customers[pk], spec.column), node.value)

    def _metric(self, node, pk: int) -> bool:
        spec = METRIC_FIELDS[node.field]
        rows = [
            row
            for row in self.world.metrics.get(pk, [])
            if (row.unit_id is None if self.unit_ids is None else row.unit_id in self.unit_ids)
        ]
        return any(self._compare(spec, node.op, getattr(row, spec.column), node.value) for row in rows)

    def _identity(self, node, pk: int) -> bool:
        return ((pk, node.kind) in self.world.identities) == node.present

    def _consent(self, node, pk: int) -> bool:
        rows = self.world.consents.get((pk, node.channel), [])
        if not rows:
            return node.state == "unknown"
        return max(rows)[2] == node.state

    def _tags(self, node, pk: int) -> bool:
        have = self.world.tags.get(pk, set())
        wanted = set(node.tags)
        if node.match == "all":
            return wanted <= have
        return bool(wanted & have) == (node.match == "any")

    def _custom_field(self, node, pk: int) -> bool:
        value = self.world.custom.get((pk, node.key))
        kind = self.world.custom_types.get(node.key)
        op = node.op
        if op in ("ne", "not_in", "is_not_set"):
            positive = {"ne": "eq", "not_in": "in", "is_not_set": "is_set"}[op]
            return not self._custom_field(node.model_copy(update={"op": positive}), pk)
        if value is None:
            return False
        if op == "is_set":
            return value != ""
        wanted = node.value if op == "in" else [node.value]
        if kind == "number":
            try:
                actual = Decimal(str(value))
            except ArithmeticError:
                return False
            wanted = [Decimal(str(v)) for v in wanted]
        else:
            actual = value
        if op == "in":
            return actual in wanted
        return self._plain(op, actual, wanted[0])

    def _order_rows(self, node, pk: int) -> list[Decimal]:
        """The amounts of the matching orders (or lines) of one customer."""
        filters = node.filters
        amounts: list[Decimal] = []
        for entry in self.world.orders:
            order = entry["order"]
            if order.customer_id != pk:
                continue
            if self.unit_ids is not None and order.unit_id not in self.unit_ids:
                continue
            if not self._in_window(order.placed_at, node.window):
                continue
            if filters.stores and order.store_id not in filters.stores:
                continue
            if filters.channels and entry["channel"] not in filters.channels:
                continue
            if filters.units and order.unit_id not in filters.units:
                continue
            if filters.statuses and order.status not in filters.statuses:
                continue
            if filters.devices and order.device not in filters.devices:
                continue
            lines = [
                line
                for line in entry["lines"]
                if (not filters.products or line.sku in filters.products)
                and (not filters.categories or line.category in filters.categories)
            ]
            if node.of == "orders":
                if filters.has_line_filters and not lines:
                    continue
                if not self._amount_ok(order.total_amount, filters):
                    continue
                amounts.append(order.total_amount)
            else:
                amounts.extend(line.amount for line in lines if self._amount_ok(line.amount, filters))
        return amounts

    @staticmethod
    def _amount_ok(amount: Decimal, filters) -> bool:
        if filters.min_amount is not None and amount < filters.min_amount:
            return False
        return not (filters.max_amount is not None and amount > filters.max_amount)

    def _orders(self, node, pk: int) -> bool:
        amounts = self._order_rows(node, pk)
        value = node.value
        if node.measure == "count":
            actual: Any = len(amounts)
        elif node.measure == "sum":
            actual = sum(amounts, Decimal(0))
        elif not amounts:
            return False
        elif node.measure == "avg":
            actual = sum(amounts, Decimal(0)) / len(amounts)
        else:
            actual = max(amounts)
        if node.measure != "count":
            value = [Decimal(str(v)) for v in value] if isinstance(value, list) else Decimal(str(value))
        return self._plain(node.op, actual, value)

    def _event(self, node, pk: int) -> bool:
        times = 0
        for event in self.world.events:
            if event.customer_id != pk or event.kind != node.kind:
                continue
            if self.unit_ids is not None and event.unit_id not in self.unit_ids:
                continue
            if not self._in_window(event.occurred_at, node.window):
                continue
            if all(self._property_ok(event.properties, prop) for prop in node.properties):
                times += 1
        return (times >= node.at_least) == node.did

    @staticmethod
    def _property_ok(properties: dict, prop) -> bool:
        if prop.key not in properties:
            return False
        actual = properties[prop.key]
        if prop.op == "eq":
            return actual == prop.value and type(actual) is type(prop.value)
        if prop.op == "in":
            return any(actual == v and type(actual) is type(v) for v in prop.value)
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        return actual >= prop.value if prop.op == "gte" else actual <= prop.value

    def _segment(self, node, pk: int) -> bool:
        segment = self.world.segments[node.segment]
        if segment.kind == Segment.Kind.STATIC:
            member = pk in self.world.static_members.get(segment.pk, set())
        else:
            member = self.holds(rules.parse_rule(segment.rule).root, pk)
        return member == node.member
