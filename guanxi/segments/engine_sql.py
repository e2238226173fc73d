"""The rule compiler's second target: ClickHouse SQL over the analytics engine's tables (ADR 0036).

A rule becomes one boolean expression over the engine's customers (`c`), with the semantics of the
ORM compiler (compiler.py), which the equality test holds it to: every condition is `c.id IN
(subquery)` or a test of the customer's own columns, and never NULL (`ifNull(…, 0)`), so `not`, `ne`
and `not_in` are the plain negation of their positive form and hold for unknown values. Values are
bound as `{pN:Type}` parameters, never spliced into the text. Times compare as microseconds since the
epoch, dates as day numbers, money as cents.

Conditions on consent, custom fields, event properties and static segments are not in the engine's
tables: `EngineUnsupportedError` says so, and the count falls back to the ORM.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from guanxi.analytics.engine import schema
from guanxi.analytics.engine.connection import Engine
from guanxi.customers.models import Customer
from guanxi.segments import rules
from guanxi.segments.catalogue import METRIC_FIELDS, PROFILE_FIELDS, FieldSpec, Kind, Op
from guanxi.segments.compiler import Context, holds, years_before

EPOCH = date(1970, 1, 1)
# Metric columns kept in cents in the engine (money), and the engine's names of the timestamp ones.
MONEY_METRICS = {
    "predicted_clv": "predicted_clv_cents",
    "total_spend": "total_spend_cents",
    "average_order_value": "average_order_value_cents",
}
TIMESTAMP_METRICS = {"first_order_at": "first_order_us", "last_order_at": "last_order_us"}
PROFILE_COLUMNS = {"first_seen_at": "first_seen_us"}


class EngineUnsupportedError(Exception):
    """The rule tests something the engine's tables do not hold."""


@dataclass
class _Sql:
    params: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any, kind: str) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"{{{name}:{kind}}}"


def micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (no float)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def day_number(day: date) -> int:
    return (day - EPOCH).days


def compile_engine(rule: rules.Rule, ctx: Context) -> tuple[str, dict[str, Any]]:
    """(boolean SQL over customers `c`, parameters) selecting what `compile_rule` selects."""
    sql = _Sql()
    return _node(rule.root, ctx, "root", sql), sql.params


def _selection(rule: rules.Rule, ctx: Context, unit_id: int | None, active_only: bool) -> tuple[str, dict]:
    condition, params = compile_engine(rule, ctx)
    where = [f"({condition})"]
    if active_only:
        params["active"] = str(Customer.Status.ACTIVE)
        where.append("c.status = {active:String}")
    if unit_id is not None:
        params["scope_unit"] = unit_id
        where.append(
            f"c.id IN (SELECT customer_id FROM {schema.CUSTOMER_UNITS} WHERE unit_id = {{scope_unit:Int64}})"
        )
    return f"FROM {schema.CUSTOMERS} AS c WHERE {' AND '.join(where)}", params


def count(engine: Engine, rule: rules.Rule, ctx: Context, *, unit_id: int | None = None) -> int:
    """Active customers (of `unit_id`'s customers, when given) that the rule selects."""
    rows, params = _selection(rule, ctx, unit_id, active_only=True)
    return int(engine.scalar(f"SELECT count() {rows}", params))


def members(
    engine: Engine, rule: rules.Rule, ctx: Context, *, unit_id: int | None = None, active_only: bool = True
) -> list[int]:
    """The ids of the customers `count` counts, ascending."""
    rows, params = _selection(rule, ctx, unit_id, active_only)
    return [int(pk) for pk in engine.columns(f"SELECT c.id AS id {rows} ORDER BY id", params)["id"]]


def _node(node: Any, ctx: Context, path: str, sql: _Sql) -> str:
    if isinstance(node, rules.AllGroup):
        return (
            " AND ".join(
                f"({_node(child, ctx, f'{path}.all[{i}]', sql)})" for i, child in enumerate(node.all)
            )
            or "1"
        )
    if isinstance(node, rules.AnyGroup):
        return (
            " OR ".join(f"({_node(child, ctx, f'{path}.any[{i}]', sql)})" for i, child in enumerate(node.any))
            or "0"
        )
    if isinstance(node, rules.NotGroup):
        return f"NOT ({_node(node.not_, ctx, f'{path}.not', sql)})"
    if isinstance(node, rules.ProfileCondition):
        spec = PROFILE_FIELDS[node.field]
        column = f"c.{PROFILE_COLUMNS.get(spec.key, spec.column)}"
        return _compare(column, spec, node.op, node.value, ctx, sql)
    if isinstance(node, rules.MetricCondition):
        spec = METRIC_FIELDS[node.field]
        column = MONEY_METRICS.get(spec.key) or TIMESTAMP_METRICS.get(spec.key) or spec.column
        units = (
            "unit_id = 0"
            if ctx.unit_ids is None
            else f"unit_id IN {sql.bind(list(ctx.unit_ids), 'Array(Int64)')}"
        )
        condition = _compare(column, spec, node.op, node.value, ctx, sql)
        return f"c.id IN (SELECT customer_id FROM {schema.METRICS} WHERE {units} AND ({condition}))"
    if isinstance(node, rules.IdentityCondition):
        rows = (
            f"SELECT customer_id FROM {schema.IDENTITIES} WHERE kind = {sql.bind(str(node.kind), 'String')}"
        )
        return f"c.id {'IN' if node.present else 'NOT IN'} ({rows})"
    if isinstance(node, rules.TagCondition):
        tag_ids = sorted(set(node.tags))
        if node.match == "all":
            return " AND ".join(
                f"c.id IN (SELECT customer_id FROM {schema.TAGS} WHERE tag_id = {sql.bind(tag, 'Int64')})"
                for tag in tag_ids
            )
        rows = f"SELECT customer_id FROM {schema.TAGS} WHERE tag_id IN {sql.bind(tag_ids, 'Array(Int64)')}"
        return f"c.id {'NOT IN' if node.match == 'none' else 'IN'} ({rows})"
    if isinstance(node, rules.OrderCondition):
        return _orders(node, ctx, sql)
    if isinstance(node, rules.EventCondition):
        return _event(node, ctx, sql)
    if isinstance(node, rules.SegmentCondition):
        return _segment(node, ctx, path, sql)
    raise EngineUnsupportedError(type(node).__name__)


def _compare(column: str, spec: FieldSpec, op: str, value: Any, ctx: Context, sql: _Sql) -> str:
    if op in (Op.NE, Op.NOT_IN):
        return f"NOT ({_compare(column, spec, Op.EQ if op == Op.NE else Op.IN, value, ctx, sql)})"
    if op == Op.IS_NOT_SET:
        return f"NOT ({_compare(column, spec, Op.IS_SET, None, ctx, sql)})"
    if op == Op.IS_SET:
        if spec.kind in (Kind.TEXT, Kind.CHOICE):
            return f"ifNull({column} != '', 0)"
        return f"isNotNull({column})"
    if spec.key == "age":
        return _age(column, op, value, ctx, sql)
    if spec.kind == Kind.DATE:
        return _date(column, spec, op, value, ctx, sql)
    convert, kind = _converter(spec, column)
    if op == Op.IN:
        values = [convert(rules.coerce(spec.kind, item)) for item in value]
        return f"ifNull({column} IN {sql.bind(values, f'Array({kind})')}, 0)"
    if op == Op.BETWEEN:
        low, high = (convert(rules.coerce(spec.kind, item)) for item in value)
        return f"ifNull({column} >= {sql.bind(low, kind)} AND {column} <= {sql.bind(high, kind)}, 0)"
    return f"ifNull({column} {SYMBOLS[op]} {sql.bind(convert(rules.coerce(spec.kind, value)), kind)}, 0)"


SYMBOLS: dict[str, str] = {Op.EQ: "=", Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<="}


def _converter(spec: FieldSpec, column: str):
    if column.endswith("_cents"):
        return (lambda v: Decimal(v) * 100), "Decimal(38, 6)"
    if spec.kind == Kind.NUMBER:
        return (lambda v: float(v)), "Float64"
    if spec.kind == Kind.INTEGER:
        return (lambda v: int(v)), "Int64"
    return (lambda v: str(v)), "String"


def _age(column: str, op: str, value: Any, ctx: Context, sql: _Sql) -> str:
    if op == Op.IN:
        return " OR ".join(f"({_age(column, Op.EQ, age, ctx, sql)})" for age in value) or "0"
    bounds: dict[str, tuple[Any, Any]] = {
        Op.EQ: (value, value),
        Op.GT: (value + 1, None) if not isinstance(value, list) else (None, None),
        Op.GTE: (value, None),
        Op.LT: (None, value - 1) if not isinstance(value, list) else (None, None),
        Op.LTE: (None, value),
        Op.BETWEEN: tuple(value) if isinstance(value, list) else (None, None),
    }
    low, high = bounds[op]
    parts = [f"isNotNull({column})"]
    if low is not None:
        parts.append(f"ifNull({column} <= {sql.bind(day_number(years_before(ctx.today, low)), 'Int64')}, 0)")
    if high is not None:
        parts.append(
            f"ifNull({column} > {sql.bind(day_number(years_before(ctx.today, high + 1)), 'Int64')}, 0)"
        )
    return " AND ".join(parts)


def _date(column: str, spec: FieldSpec, op: str, value: Any, ctx: Context, sql: _Sql) -> str:
    def point(moment: date | datetime) -> str:
        number = micros(moment) if isinstance(moment, datetime) else day_number(moment)
        return sql.bind(number, "Int64")

    if op in (Op.IN_LAST_DAYS, Op.BEFORE_DAYS_AGO):
        if spec.timestamp:
            edge: date | datetime = ctx.now - timedelta(days=value)
            upper: date | datetime = ctx.now
        else:
            edge, upper = ctx.today - timedelta(days=value), ctx.today
        if op == Op.BEFORE_DAYS_AGO:
            return f"ifNull({column} < {point(edge)}, 0)"
        return f"ifNull({column} >= {point(edge)} AND {column} <= {point(upper)}, 0)"
    if op == Op.IN:
        return " OR ".join(f"({_date(column, spec, Op.EQ, item, ctx, sql)})" for item in value) or "0"
    if op == Op.BETWEEN:
        low, high = (date.fromisoformat(item) for item in value)
    else:
        low = high = date.fromisoformat(value)
    start: date | datetime = ctx.day_start(low) if spec.timestamp else low
    after: date | datetime = (
        ctx.day_start(high + timedelta(days=1)) if spec.timestamp else high + timedelta(days=1)
    )
    bounds: dict[str, list[tuple[str, date | datetime]]] = {
        Op.EQ: [(">=", start), ("<", after)],
        Op.BETWEEN: [(">=", start), ("<", after)],
        Op.GT: [(">=", after)],
        Op.GTE: [(">=", start)],
        Op.LT: [("<", start)],
        Op.LTE: [("<", after)],
    }
    return (
        "ifNull(" + " AND ".join(f"{column} {symbol} {point(edge)}" for symbol, edge in bounds[op]) + ", 0)"
    )


def _window(column: str, window: Any, ctx: Context, sql: _Sql) -> list[str]:
    def at(moment: datetime) -> str:
        return sql.bind(micros(moment), "Int64")

    if window is None:
        return []
    if isinstance(window, rules.LastWindow):
        delta = timedelta(days=window.amount) if window.unit == "days" else timedelta(hours=window.amount)
        return [f"{column} >= {at(ctx.now - delta)}", f"{column} <= {at(ctx.now)}"]
    if isinstance(window, rules.DaysAgoWindow):
        return [
            f"{column} >= {at(ctx.now - timedelta(days=window.max_days))}",
            f"{column} < {at(ctx.now - timedelta(days=window.min_days))}",
        ]
    parts = []
    if window.start:
        parts.append(f"{column} >= {at(ctx.day_start(window.start))}")
    if window.end:
        parts.append(f"{column} < {at(ctx.day_start(window.end + timedelta(days=1)))}")
    return parts


def _orders(node: rules.OrderCondition, ctx: Context, sql: _Sql) -> str:
    lines = node.of == "lines"
    filters = node.filters
    table = schema.LINES if lines else schema.ORDERS
    amount = "amount_cents" if lines else "total_cents"
    where = ["1"]
    if ctx.unit_ids is not None:
        where.append(f"unit_id IN {sql.bind(list(ctx.unit_ids), 'Array(Int64)')}")
    where += [f"ifNull({part}, 0)" for part in _window("placed_us", node.window, ctx, sql)]
    for name, column, kind in (
        ("stores", "store_id", "Int64"),
        ("channels", "channel", "String"),
        ("units", "unit_id", "Int64"),
        ("statuses", "status", "String"),
        ("devices", "device", "String"),
    ):
        values = getattr(filters, name)
        if values:
            where.append(
                f"{column} IN {sql.bind([str(v) if kind == 'String' else int(v) for v in values], f'Array({kind})')}"
            )
    if filters.min_amount is not None:
        where.append(f"{amount} >= {sql.bind(Decimal(filters.min_amount) * 100, 'Decimal(38, 6)')}")
    if filters.max_amount is not None:
        where.append(f"{amount} <= {sql.bind(Decimal(filters.max_amount) * 100, 'Decimal(38, 6)')}")
    line_where = []
    if filters.products:
        line_where.append(f"sku IN {sql.bind(list(filters.products), 'Array(String)')}")
    if filters.categories:
        line_where.append(f"category IN {sql.bind(list(filters.categories), 'Array(String)')}")
    if line_where:
        if lines:
            where += line_where
        else:
            where.append(f"id IN (SELECT order_id FROM {schema.LINES} WHERE {' AND '.join(line_where)})")
    rows = f"FROM {table} WHERE {' AND '.join(where)}"
    value = node.value
    if node.measure != "count":
        value = (
            [rules.coerce(Kind.NUMBER, v) for v in value]
            if isinstance(value, list)
            else rules.coerce(Kind.NUMBER, value)
        )
    if node.measure == "count":
        if (node.op == Op.GTE and value == 1) or (node.op == Op.GT and value == 0):
            return f"c.id IN (SELECT customer_id {rows})"
        if (
            (node.op == Op.EQ and value == 0)
            or (node.op == Op.LT and value == 1)
            or (node.op == Op.LTE and value == 0)
        ):
            return f"c.id NOT IN (SELECT customer_id {rows})"
    having = _having(node.measure, amount, node.op, value, sql)
    grouped = f"SELECT customer_id {rows} GROUP BY customer_id"
    if node.measure in ("count", "sum") and holds(node.op, 0, value):
        return f"c.id NOT IN ({grouped} HAVING NOT ({having}))"
    return f"c.id IN ({grouped} HAVING {having})"


def _having(measure: str, amount: str, op: str, value: Any, sql: _Sql) -> str:
    """The aggregate compared to `value`; money in cents, averages as sum against value × count."""

    def test(low_op: str, bound: Any) -> str:
        if measure == "count":
            return f"count() {SYMBOLS[low_op]} {sql.bind(int(bound), 'Int64')}"
        cents = sql.bind(Decimal(bound) * 100, "Decimal(38, 6)")
        if measure == "avg":
            return f"sum({amount}) {SYMBOLS[low_op]} {cents} * count()"
        return f"{'sum' if measure == 'sum' else 'max'}({amount}) {SYMBOLS[low_op]} {cents}"

    if op == Op.BETWEEN:
        return f"{test(Op.GTE, value[0])} AND {test(Op.LTE, value[1])}"
    if op == Op.NE:
        return f"NOT ({test(Op.EQ, value)})"
    return test(op, value)


def _event(node: rules.EventCondition, ctx: Context, sql: _Sql) -> str:
    if node.properties:
        raise EngineUnsupportedError("event properties")
    where = [f"kind = {sql.bind(str(node.kind), 'String')}"]
    if ctx.unit_ids is not None:
        where.append(f"unit_id IN {sql.bind(list(ctx.unit_ids), 'Array(Int64)')}")
    where += _window("occurred_us", node.window, ctx, sql)
    rows = f"SELECT customer_id FROM {schema.EVENTS} WHERE {' AND '.join(where)}"
    if node.at_least > 1:
        rows += f" GROUP BY customer_id HAVING count() >= {sql.bind(node.at_least, 'Int64')}"
    return f"c.id {'IN' if node.did else 'NOT IN'} ({rows})"


def _segment(node: rules.SegmentCondition, ctx: Context, path: str, sql: _Sql) -> str:
    from guanxi.segments.models import Segment

    if node.segment in ctx.stack:
        raise rules.RuleError([rules.Problem(f"{path}.segment", "cycle")])
    ref = ctx.resolve_segment(node.segment) if ctx.resolve_segment else None
    if ref is None:
        raise rules.RuleError([rules.Problem(f"{path}.segment", "no such segment")])
    if ref.kind == Segment.Kind.STATIC or len(ctx.stack) >= rules.MAX_DEPTH:
        raise EngineUnsupportedError("static segment")
    inner = _node(rules.parse_rule(ref.rule).root, replace(ctx, stack=(*ctx.stack, ref.id)), "root", sql)
    return inner if node.member else f"NOT ({inner})"
