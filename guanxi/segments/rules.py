"""The rule tree of a segment: a versioned JSON document, validated with pydantic.

    {"version": 1, "root": {"all": [
        {"type": "profile", "field": "gender", "op": "eq", "value": "female"},
        {"any": [...]}, {"not": {...}},
        {"type": "orders", "of": "lines", "measure": "count", "op": "gte", "value": 1,
         "window": {"type": "last", "amount": 365, "unit": "days"},
         "filters": {"categories": ["毛巾浴巾"]}}]}}

Groups are `{"all": [...]}` (every child holds; empty: everyone), `{"any": [...]}` (at least one;
empty: nobody) and `{"not": node}`. Conditions carry a `type`. `parse_rule` checks the structure with
pydantic, then the values against the field catalogue, the nesting depth and the number of conditions;
every problem names the path of the offending node, such as `root.all[2].any[0].value`.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from guanxi.segments.catalogue import (
    AGGREGATE_OPS,
    CHANNELS,
    CONSENT_CHANNELS,
    DEVICES,
    EVENT_KINDS,
    IDENTITY_KINDS,
    METRIC_FIELDS,
    ORDER_STATUSES,
    PROFILE_FIELDS,
    FieldSpec,
    Kind,
    Op,
)

SCHEMA_VERSION = 1
MAX_DEPTH = 10
MAX_CONDITIONS = 100
MAX_LIST = 200
MAX_DAYS = 36_500

Key = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


def _values(choices) -> tuple[str, ...]:
    return tuple(value for value, _label in choices)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# Windows: relative to an injectable "now", or calendar dates in the server's time zone.


class LastWindow(Strict):
    type: Literal["last"]
    amount: int = Field(ge=1, le=MAX_DAYS * 24)
    unit: Literal["days", "hours"] = "days"


class DaysAgoWindow(Strict):
    """Between `max_days` and `min_days` ago, e.g. between 730 and 365 days ago."""

    type: Literal["days_ago"]
    min_days: int = Field(ge=0, le=MAX_DAYS)
    max_days: int = Field(ge=1, le=MAX_DAYS)

    @model_validator(mode="after")
    def _ordered(self) -> "DaysAgoWindow":
        if self.max_days <= self.min_days:
            raise ValueError("max_days must be greater than min_days")
        return self


class DateWindow(Strict):
    """From `start` to `end`, both calendar days included; either may be open."""

    type: Literal["dates"]
    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> "DateWindow":
        if self.start is None and self.end is None:
            raise ValueError("give a start date, an end date or both")
        if self.start and self.end and self.end < self.start:
            raise ValueError("the end date is before the start date")
        return self


Window = Annotated[LastWindow | DaysAgoWindow | DateWindow, Field(discriminator="type")]


# Conditions.


class ProfileCondition(Strict):
    type: Literal["profile"]
    field: str
    op: Op
    value: Any = None


class CustomFieldCondition(Strict):
    type: Literal["custom_field"]
    key: Key
    op: Literal[Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.IS_SET, Op.IS_NOT_SET]
    value: Any = None


class IdentityCondition(Strict):
    type: Literal["identity"]
    kind: Literal[_values(IDENTITY_KINDS)]  # type: ignore[valid-type]
    present: bool = True


class ConsentCondition(Strict):
    """The current consent state of a channel: the newest evidence row; "unknown" when none."""

    type: Literal["consent"]
    channel: Literal[_values(CONSENT_CHANNELS)]  # type: ignore[valid-type]
    state: Literal["granted", "withdrawn", "unknown"] = "granted"


class TagCondition(Strict):
    type: Literal["tags"]
    match: Literal["any", "all", "none"] = "any"
    tags: list[int] = Field(min_length=1, max_length=MAX_LIST)


class MetricCondition(Strict):
    type: Literal["metric"]
    field: str
    op: Op
    value: Any = None


class LoyaltyCondition(Strict):
    """A loyalty membership: `member` (in any programme the context counts), `tier` (its rank: 0 =
    银卡 … 3 = 钻石卡) or `points` (the balance) compared with `value`."""

    type: Literal["loyalty"]
    field: Literal["member", "tier", "points"]
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte"] = "gte"
    value: int = Field(0, ge=-(10**12), le=10**12)


class OrderFilters(Strict):
    """Which orders (or lines) count. A line filter on an order count keeps orders with such a line."""

    stores: list[int] = Field(default_factory=list, max_length=MAX_LIST)
    channels: list[Literal[_values(CHANNELS)]] = Field(default_factory=list)  # type: ignore[valid-type]
    units: list[int] = Field(default_factory=list, max_length=MAX_LIST)
    statuses: list[Literal[_values(ORDER_STATUSES)]] = Field(default_factory=list)  # type: ignore[valid-type]
    devices: list[Literal[_values(DEVICES)]] = Field(default_factory=list)  # type: ignore[valid-type]
    products: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=MAX_LIST
    )
    categories: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=MAX_LIST
    )
    # On the order total (orders) or the line amount (lines).
    min_amount: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    max_amount: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)

    @property
    def has_line_filters(self) -> bool:
        return bool(self.products or self.categories)


class OrderCondition(Strict):
    """count / sum / avg / max of orders or lines. Count and sum of nothing are 0; the average and
    maximum of nothing are unknown, so such a condition does not hold for a customer without orders."""

    type: Literal["orders"]
    of: Literal["orders", "lines"] = "orders"
    measure: Literal["count", "sum", "avg", "max"] = "count"
    op: Literal[AGGREGATE_OPS]  # type: ignore[valid-type]
    value: Any
    window: Window | None = None
    filters: OrderFilters = Field(default_factory=lambda: OrderFilters.model_validate({}))


class PropertyFilter(Strict):
    key: Key
    # gte/lte hold only for numeric property values.
    op: Literal[Op.EQ, Op.IN, Op.GTE, Op.LTE] = Op.EQ
    value: Any


class EventCondition(Strict):
    """Did (or did not) do `kind` at least `at_least` times in the window, with matching properties."""

    type: Literal["event"]
    kind: Literal[_values(EVENT_KINDS)]  # type: ignore[valid-type]
    did: bool = True
    at_least: int = Field(1, ge=1, le=1_000_000)
    window: Window | None = None
    properties: list[PropertyFilter] = Field(default_factory=list, max_length=10)


class SegmentCondition(Strict):
    type: Literal["segment"]
    segment: int
    member: bool = True


# Groups.


class AllGroup(Strict):
    all: list["Node"] = Field(max_length=MAX_CONDITIONS)


class AnyGroup(Strict):
    any: list["Node"] = Field(max_length=MAX_CONDITIONS)


class NotGroup(Strict):
    not_: "Node" = Field(alias="not")


GROUP_KEYS = ("all", "any", "not")


def _node_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in GROUP_KEYS:
            if key in value:
                return key
        tag = value.get("type")
        return tag if isinstance(tag, str) else None
    groups: dict[type, str] = {AllGroup: "all", AnyGroup: "any", NotGroup: "not"}
    return groups.get(type(value), getattr(value, "type", None))


CONDITIONS = {
    "profile": ProfileCondition,
    "custom_field": CustomFieldCondition,
    "identity": IdentityCondition,
    "consent": ConsentCondition,
    "tags": TagCondition,
    "metric": MetricCondition,
    "orders": OrderCondition,
    "event": EventCondition,
    "segment": SegmentCondition,
    "loyalty": LoyaltyCondition,
}
Condition = (
    ProfileCondition
    | CustomFieldCondition
    | IdentityCondition
    | ConsentCondition
    | TagCondition
    | MetricCondition
    | OrderCondition
    | EventCondition
    | SegmentCondition
    | LoyaltyCondition
)

Node = Annotated[
    Annotated[AllGroup, Tag("all")]
    | Annotated[AnyGroup, Tag("any")]
    | Annotated[NotGroup, Tag("not")]
    | Annotated[ProfileCondition, Tag("profile")]
    | Annotated[CustomFieldCondition, Tag("custom_field")]
    | Annotated[IdentityCondition, Tag("identity")]
    | Annotated[ConsentCondition, Tag("consent")]
    | Annotated[TagCondition, Tag("tags")]
    | Annotated[MetricCondition, Tag("metric")]
    | Annotated[OrderCondition, Tag("orders")]
    | Annotated[EventCondition, Tag("event")]
    | Annotated[SegmentCondition, Tag("segment")]
    | Annotated[LoyaltyCondition, Tag("loyalty")],
    Discriminator(
        _node_tag,
        custom_error_type="invalid_node",
        custom_error_message="expected a group (all, any, not) or a condition with a known type",
    ),
]


class Rule(Strict):
    version: Literal[SCHEMA_VERSION] = SCHEMA_VERSION  # type: ignore[valid-type]
    root: Node

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=False)


for _model in (AllGroup, AnyGroup, NotGroup, Rule):
    _model.model_rebuild()


def everyone() -> Rule:
    return Rule(root=AllGroup(all=[]))


# Errors.


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class RuleError(ValueError):
    """A rule that cannot be used, with every problem found and where it is."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))


MESSAGES = {
    "missing": _("this value is required"),
    "extra_forbidden": _("unknown field"),
    "invalid_node": _("expected a group (all, any, not) or a condition with a known type"),
    "literal_error": _("not one of the allowed values"),
    "enum": _("not one of the allowed values"),
    "int_parsing": _("expected a whole number"),
    "int_type": _("expected a whole number"),
    "bool_type": _("expected true or false"),
    "bool_parsing": _("expected true or false"),
    "list_type": _("expected a list"),
    "dict_type": _("expected an object"),
    "model_type": _("expected an object"),
    "model_attributes_type": _("expected an object"),
    "date_from_datetime_parsing": _("expected a date (YYYY-MM-DD)"),
    "date_parsing": _("expected a date (YYYY-MM-DD)"),
    "date_type": _("expected a date (YYYY-MM-DD)"),
    "too_long": _("too many items"),
    "too_short": _("at least one item is required"),
    "string_pattern_mismatch": _("only letters, digits, dots, dashes and underscores"),
}


def format_path(loc: tuple[Any, ...]) -> str:
    """`("root", "all", "all", 2, "tags", "tags", 0)` → `root.all[2].tags[0]`: drop the union tags
    pydantic puts after each place a node is validated (root, a group's items, a negated node)."""
    path = ""
    expect_tag = False
    last_field = None
    for part in loc:
        if expect_tag:
            expect_tag = False
            if isinstance(part, str) and (part in GROUP_KEYS or part in CONDITIONS):
                continue
        if isinstance(part, int):
            path += f"[{part}]"
            expect_tag = last_field in ("all", "any")
            last_field = None
        else:
            path += f".{part}" if path else str(part)
            last_field = part
            expect_tag = part in ("root", "not")
    return path or "rule"


def parse_rule(data: Any) -> Rule:
    """A validated rule, or RuleError listing each problem with its path."""
    if not isinstance(data, dict):
        raise RuleError([Problem("rule", str(_("expected an object")))])
    _check_shape(data.get("root"))
    try:
        rule = Rule.model_validate(data)
    except ValidationError as error:
        found = []
        for item in error.errors():
            message = MESSAGES.get(item["type"])
            found.append(Problem(format_path(item["loc"]), str(message) if message else item["msg"]))
        raise RuleError(found) from None
    problems: list[Problem] = []
    _check_values(rule.root, "root", problems)
    if problems:
        raise RuleError(problems)
    return rule


def _check_shape(root: Any) -> None:
    """Depth and size before pydantic: a hostile document must not recurse deeply into the parser."""
    stack = [(root, "root", 1)]
    conditions = 0
    while stack:
        node, path, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        if depth > MAX_DEPTH:
            raise RuleError(
                [Problem(path, str(_("groups are nested more than %(max)d deep") % {"max": MAX_DEPTH}))]
            )
        if "all" in node or "any" in node:
            key = "all" if "all" in node else "any"
            children = node[key]
            if isinstance(children, list):
                # Reversed, so conditions are counted in document order.
                stack.extend(
                    (child, f"{path}.{key}[{i}]", depth + 1)
                    for i, child in reversed(list(enumerate(children)))
                )
        elif "not" in node:
            stack.append((node["not"], f"{path}.not", depth + 1))
        else:
            conditions += 1
            if conditions > MAX_CONDITIONS:
                raise RuleError(
                    [Problem(path, str(_("more than %(max)d conditions") % {"max": MAX_CONDITIONS}))]
                )


def walk(node: Any, path: str = "root"):
    """Every node with its path, depth first."""
    yield node, path
    if isinstance(node, AllGroup):
        for i, child in enumerate(node.all):
            yield from walk(child, f"{path}.all[{i}]")
    elif isinstance(node, AnyGroup):
        for i, child in enumerate(node.any):
            yield from walk(child, f"{path}.any[{i}]")
    elif isinstance(node, NotGroup):
        yield from walk(node.not_, f"{path}.not")


def referenced_segments(rule: Rule) -> set[int]:
    return {node.segment for node, _path in walk(rule.root) if isinstance(node, SegmentCondition)}


def _check_values(root: Any, root_path: str, problems: list[Problem]) -> None:
    for node, path in walk(root, root_path):
        if isinstance(node, ProfileCondition | MetricCondition):
            catalogue = PROFILE_FIELDS if isinstance(node, ProfileCondition) else METRIC_FIELDS
            spec = catalogue.get(node.field)
            if spec is None:
                problems.append(Problem(f"{path}.field", str(_("unknown field"))))
                continue
            if node.op not in spec.operators:
                problems.append(Problem(f"{path}.op", str(_("this operator does not apply to the field"))))
                continue
            _check_value(spec, node.op, node.value, f"{path}.value", problems)
        elif isinstance(node, CustomFieldCondition):
            _check_custom_value(node, f"{path}.value", problems)
        elif isinstance(node, OrderCondition):
            spec = FieldSpec(
                "aggregate", _("value"), Kind.NUMBER if node.measure != "count" else Kind.INTEGER, ""
            )
            _check_value(spec, node.op, node.value, f"{path}.value", problems, minimum=0)
            filters = node.filters
            low, high = filters.min_amount, filters.max_amount
            if low is not None and high is not None and high < low:
                problems.append(Problem(f"{path}.filters.max_amount", str(_("less than the minimum"))))
        elif isinstance(node, EventCondition):
            for i, prop in enumerate(node.properties):
                _check_property(prop, f"{path}.properties[{i}].value", problems)


def _check_value(
    spec: FieldSpec, op: str, value: Any, path: str, problems: list[Problem], minimum: float | None = None
) -> None:
    def bad(message) -> None:
        problems.append(Problem(path, str(message)))

    if op in (Op.IS_SET, Op.IS_NOT_SET):
        if value is not None:
            bad(_("this operator takes no value"))
        return
    if op in (Op.IN_LAST_DAYS, Op.BEFORE_DAYS_AGO):
        if not _is_int(value) or not 0 <= value <= MAX_DAYS:
            bad(_("expected a number of days"))
        return
    if op in (Op.IN, Op.NOT_IN):
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            bad(_("expected a list of 1 to %(max)d values") % {"max": MAX_LIST})
            return
        for item in value:
            if not _scalar_ok(spec, item, minimum):
                bad(_expected(spec))
                return
        return
    if op == Op.BETWEEN:
        if not isinstance(value, list) or len(value) != 2:
            bad(_("expected two values: from and to"))
            return
        if not all(_scalar_ok(spec, item, minimum) for item in value):
            bad(_expected(spec))
            return
        low, high = (coerce(spec.kind, item) for item in value)
        if high < low:
            bad(_("the second value is smaller than the first"))
        return
    if not _scalar_ok(spec, value, minimum):
        bad(_expected(spec))


def _expected(spec: FieldSpec):
    if spec.kind == Kind.CHOICE:
        return _("not one of the allowed values")
    if spec.kind == Kind.DATE:
        return _("expected a date (YYYY-MM-DD)")
    if spec.kind == Kind.INTEGER:
        return _("expected a whole number in range")
    if spec.kind == Kind.NUMBER:
        return _("expected a number in range")
    return _("expected text of at most 200 characters")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scalar_ok(spec: FieldSpec, value: Any, minimum: float | None = None) -> bool:
    low = spec.minimum if spec.minimum is not None else minimum
    if spec.kind == Kind.CHOICE:
        return isinstance(value, str) and value in dict(spec.choices)
    if spec.kind == Kind.TEXT:
        return isinstance(value, str) and 0 < len(value) <= 200
    if spec.kind == Kind.DATE:
        try:
            coerce(Kind.DATE, value)
        except (TypeError, ValueError):
            return False
        return True
    if spec.kind == Kind.INTEGER and not _is_int(value):
        return False
    if spec.kind == Kind.NUMBER:
        try:
            number = coerce(Kind.NUMBER, value)
        except (TypeError, ValueError):
            return False
        value = number
    if low is not None and value < low:
        return False
    return not (spec.maximum is not None and value > spec.maximum)


def coerce(kind: str, value: Any) -> Any:
    """A catalogue value as Python: dates from ISO strings, numbers as Decimal (never float)."""
    if kind == Kind.DATE:
        if not isinstance(value, str):
            raise TypeError(value)
        return date.fromisoformat(value)
    if kind == Kind.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TypeError(value)
        try:
            number = Decimal(str(value))
        except InvalidOperation as error:
            raise ValueError(value) from error
        if not number.is_finite() or abs(number) >= Decimal("1e12"):
            raise ValueError(value)
        return number
    return value


def _check_custom_value(node: CustomFieldCondition, path: str, problems: list[Problem]) -> None:
    if node.op in (Op.IS_SET, Op.IS_NOT_SET):
        if node.value is not None:
            problems.append(Problem(path, str(_("this operator takes no value"))))
        return
    values = node.value if node.op in (Op.IN, Op.NOT_IN) else [node.value]
    if not isinstance(values, list) or not values or len(values) > MAX_LIST:
        problems.append(Problem(path, str(_("expected a list of 1 to %(max)d values") % {"max": MAX_LIST})))
        return
    ordered = node.op in (Op.GT, Op.GTE, Op.LT, Op.LTE)
    for item in values:
        if ordered:
            ok = _is_number(item) or _is_iso_date(item)
        else:
            ok = isinstance(item, bool | str) or _is_number(item)
        if not ok:
            problems.append(Problem(path, str(_("expected text, a number, a date or true/false"))))
            return


def _check_property(prop: PropertyFilter, path: str, problems: list[Problem]) -> None:
    values = prop.value if prop.op == Op.IN else [prop.value]
    if not isinstance(values, list) or not values or len(values) > MAX_LIST:
        problems.append(Problem(path, str(_("expected a list of 1 to %(max)d values") % {"max": MAX_LIST})))
        return
    for item in values:
        ok = _is_number(item) if prop.op in (Op.GTE, Op.LTE) else isinstance(item, str) or _is_number(item)
        if not ok or (isinstance(item, str) and len(item) > 200):
            problems.append(Problem(path, str(_("expected text or a number"))))
            return


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e12


def _is_iso_date(value: Any) -> bool:
    try:
        coerce(Kind.DATE, value)
    except (TypeError, ValueError):
        return False
    return True
