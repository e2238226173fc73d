"""The report kit: a report is a declared query over a read model another app exposes.

A `Report` names its source (a function giving the rows the user may see, already narrowed to the
chosen business unit), the dimensions it may be grouped by and the measures it sums. Running it with a
`Scope` (the filters parsed from the page's query string, which is also its permalink) gives a
`Result`: a table, chart data and, for every row, the query string of its drill-down page, which lists
the customers or orders behind that row's figures. Grouping and summing are one database aggregation.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Aggregate, Expression, F, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.http import Http404, QueryDict
from django.utils.functional import Promise
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from guanxi.accounts.models import BusinessUnit
from guanxi.analytics.rollup import rollup_ready

# A report's own figures: (group value, label, {measure key: value}) per row.
Figures = list[tuple[Any, str, dict[str, Any]]]
EMPTY_GROUP = "~"  # the drill-down value of rows whose group is empty (no class, no category...)
TENTH = Decimal("0.1")


def business_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class Dimension:
    """What a report may be grouped by. `field` is an ORM path (or an expression, then `lookup` names
    how the drill-down narrows the rows to one group); `labels` turns stored values into words."""

    key: str
    label: Promise
    field: str | Expression
    labels: Callable[[Any], str] | None = None
    month: bool = False  # group by calendar month (business time zone) of a date-time field
    lookup: Callable[[Any], Q] | None = None
    empty_label: Promise | None = None  # the label of rows without a value, when "Unknown" says it wrong
    rollup: str | None = (
        None  # the column of the sales rollup it groups by ("day" for months); None: lines only
    )

    def expression(self) -> Expression | F:
        if self.month:
            return TruncMonth(self.field, tzinfo=business_zone())
        return F(self.field) if isinstance(self.field, str) else self.field

    def label_of(self, value: Any) -> str:
        if value is None or value == "":
            return str(self.empty_label) if self.empty_label else _("Unknown")
        if self.month:
            return _month(value).strftime("%Y-%m")
        return self.labels(value) if self.labels else str(value)

    def token(self, value: Any) -> str:
        """The value as it travels in a drill-down link."""
        if value is None or value == "":
            return EMPTY_GROUP
        return _month(value).strftime("%Y-%m") if self.month else str(value)

    def narrow(self, rows: QuerySet, token: str) -> QuerySet:
        """The rows of one group, named by its token."""
        if self.month:
            if token == EMPTY_GROUP:
                return rows.filter(**{f"{self.field}__isnull": True})
            start = _parse_month(token)
            if start is None:
                raise Http404
            return rows.filter(**month_range(str(self.field), start, start))
        if self.lookup is not None:
            return rows.filter(self.lookup(None if token == EMPTY_GROUP else token))
        if not isinstance(self.field, str):
            raise Http404
        if token == EMPTY_GROUP:
            return rows.filter(Q(**{f"{self.field}__isnull": True}) | Q(**{self.field: ""}))
        return rows.filter(**{self.field: token})


@dataclass(frozen=True)
class Measure:
    key: str
    label: Promise
    aggregate: Callable[[], Aggregate | Expression] | None  # None: the report's `figures` compute it
    money: bool = False
    share: bool = False  # also show each row's share of the total (%)
    average: bool = False  # an average: two decimals, and None (not 0) when there is nothing to average
    per: int = 1  # the aggregate is in units of 1/per (a sum of amount × percent is divided by 100)
    summable: bool = True  # False: a rate, whose total is not the sum of computed rows (left empty)
    rollup: Callable[[], Aggregate | Expression] | None = None  # the same figure over the sales rollup


@dataclass(frozen=True)
class Scope:
    """The filters of one report view, parsed from the query string. Absent filters are None."""

    unit: BusinessUnit | None
    group: str = ""
    start: date | None = None  # first month of the period
    end: date | None = None  # last month of the period (inclusive)
    store: str | None = None
    channel: str | None = None
    customer_class: str | None = None
    tier: str | None = None  # a loyalty tier's rank (the customer list's tier filter)
    segment: str | None = None  # a saved segment's id

    def query(self, **extra: str) -> str:
        values = {
            "unit": self.unit.code if self.unit else "",
            "group": self.group,
            "start": self.start.strftime("%Y-%m") if self.start else "",
            "end": self.end.strftime("%Y-%m") if self.end else "",
            "store": self.store or "",
            "channel": self.channel or "",
            "class": self.customer_class or "",
            "tier": self.tier or "",
            "segment": self.segment or "",
            **extra,
        }
        return urlencode({key: value for key, value in values.items() if value})


@dataclass(frozen=True)
class Filter:
    """A filter a report offers on its page: `key` in the query string, choices shown as a select."""

    key: str
    label: Promise
    choices: Callable[[Any], list[tuple[str, Any]]] | None = None  # (user) -> choices; None: month


@dataclass(frozen=True)
class Report:
    slug: str
    title: Promise
    description: Promise
    source: Callable[[Any, Scope], QuerySet]  # (user, scope) -> the rows, restricted and filtered
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    drill: str  # "customers" or "orders": what the drill-down page lists
    filters: tuple[Filter, ...] = ()
    chart: str = "bar"  # a charts.js kind: "bar" (horizontal) or "columns"
    sort_by_value: bool = True  # largest first; False keeps the groups' own order (months)
    needs: str = ""  # the permission of the read model behind the report
    period_months: int = 0  # the default period, in months up to this one (0: all time)
    # (user, source rows) -> the rows the drill-down lists, when they are not the source's own rows
    drill_rows: Callable[[Any, QuerySet], QuerySet] | None = None
    # (user, scope) -> [(group value, label, {measure key: value})]: figures the read model's owner
    # computes (marketing's effect analysis) rather than the database sums. The source still gives the
    # rows behind each group for the drill-down; totals add up the summable measures.
    figures: Callable[[Any, Scope], Figures] | None = None
    curve: Callable[[Any, Scope], dict[str, Any]] | None = None  # (user, scope) -> a second chart's data
    # (user, scope) -> (figures, the second chart's data), instead of `figures` and `curve` when both come
    # from one query (the Pareto ranking behind the ABC classes and the curve): run once per view, the
    # Result keeps the chart.
    figures_with_curve: Callable[[Any, Scope], tuple[Figures, dict[str, Any]]] | None = None
    # The measures drawn as the chart's series, for the kinds that draw several: "heatmap" (rows × these
    # measures, e.g. a cohort by month after its first order), "stacked" (amounts) and "shares" (stacked
    # percentages). "histogram" draws the first measure over rows that are bins, without gaps.
    series: tuple[str, ...] = ()
    # (user, scope) -> the pre-aggregated rows (guanxi.analytics' daily sales rollup) of the same figures,
    # read instead of `source` when `reads_rollup` says the view is expressible on them
    rollup: Callable[[Any, Scope], QuerySet] | None = None

    def dimension(self, key: str) -> Dimension:
        for dimension in self.dimensions:
            if dimension.key == key:
                return dimension
        return self.dimensions[0]


@dataclass(frozen=True)
class Row:
    label: str
    token: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Result:
    report: Report
    scope: Scope
    dimension: Dimension
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    totals: tuple[Any, ...]
    shares: dict[str, tuple[Decimal | None, ...]] = field(default_factory=dict)
    curve: dict[str, Any] | None = None  # the second chart that came with the figures

    def second_chart(self, user) -> dict[str, Any] | None:
        """The report's second chart: the one computed with its figures, else its `curve` hook's."""
        if self.curve is not None:
            return self.curve
        return self.report.curve(user, self.scope) if self.report.curve is not None else None

    def table_rows(self) -> tuple[tuple[Any, ...], ...]:
        return tuple((row.label, *row.values) for row in self.rows)

    def chart(self) -> dict[str, Any]:
        if self.report.series:
            return self._series_chart()
        first = self.report.measures[0]
        return {
            "kind": self.report.chart,
            "labels": [row.label for row in self.rows],
            "values": [float(row.values[0] or 0) for row in self.rows],
            "series_label": str(first.label),
        }

    def _series_chart(self) -> dict[str, Any]:
        """The chart of a report that draws several measures (`Report.series`) per row."""
        labels = [row.label for row in self.rows]
        columns = self._value_columns()
        series = [
            (measure, columns[measure.key])
            for measure in self.report.measures
            if measure.key in self.report.series
        ]
        if self.report.chart == "heatmap":
            return {
                "kind": "heatmap",
                "x_labels": [str(measure.label) for measure, _index in series],
                "y_labels": labels,
                "x_name": "",
                "y_name": str(self.dimension.label),
                "values": [
                    [x, y, float(row.values[index])]
                    for y, row in enumerate(self.rows)
                    for x, (_measure, index) in enumerate(series)
                    if row.values[index] is not None
                ],
                "series_label": str(self.report.measures[0].label),
                "suffix": "%" if all(measure.average for measure, _index in series) else "",
            }
        return {
            "kind": "stacked",
            "labels": labels,
            "series": [
                {"name": str(measure.label), "values": [float(row.values[index] or 0) for row in self.rows]}
                for measure, index in series
            ],
            "percent": self.report.chart == "shares",
        }

    def _value_columns(self) -> dict[str, int]:
        """Where each measure's value is in a row's values (a share column follows its measure)."""
        positions, index = {}, 0
        for measure in self.report.measures:
            positions[measure.key] = index
            index += 2 if measure.share else 1
        return positions


def run(report: Report, user, scope: Scope) -> Result:
    """Group the report's rows by the scope's dimension and sum its measures, in one query."""
    dimension = report.dimension(scope.group)
    scope = replace(scope, group=dimension.key)
    curve = None
    if report.figures or report.figures_with_curve:
        records, totals, curve = _figures(report, user, scope)
    elif reads_rollup(scope, report, dimension):
        records, totals = _aggregate_rollup(report, dimension, user, scope)
    else:
        records, totals = _aggregate(report, dimension, user, scope)
    first = report.measures[0].key
    if report.sort_by_value and not dimension.month:
        records.sort(key=lambda r: (-(r[first] or 0), r["_label"]))
    else:
        records.sort(key=lambda r: (r["_group"] is None, r["_group"] or ""))
    columns: list[str] = [str(dimension.label)]
    for measure in report.measures:
        columns.append(str(measure.label))
        if measure.share:
            columns.append(_("%(measure)s, share (%%)") % {"measure": measure.label})
    out = []
    for record in records:
        values: list[Any] = []
        for measure in report.measures:
            value = _value(record[measure.key], measure)
            values.append(value)
            if measure.share:
                values.append(percent(value, _value(totals[measure.key], measure)))
        out.append(Row(record["_label"], dimension.token(record["_group"]), tuple(values)))
    total_values: list[Any] = []
    for measure in report.measures:
        total = _value(totals[measure.key], measure)
        total_values.append(total)
        if measure.share:
            total_values.append(Decimal("100.0") if total else None)
    return Result(report, scope, dimension, tuple(columns), tuple(out), tuple(total_values), curve=curve)


def _aggregate(report: Report, dimension: Dimension, user, scope: Scope) -> tuple[list[dict], dict[str, Any]]:
    rows = report.source(user, scope)
    aggregates = {measure.key: measure.aggregate() for measure in report.measures if measure.aggregate}
    records = list(
        rows.annotate(_group=dimension.expression()).values("_group").annotate(**aggregates).order_by()
    )
    for record in records:
        record["_label"] = dimension.label_of(record["_group"])
    return records, rows.aggregate(**aggregates)


# The scope fields the sales rollup can narrow by. Any other filter set (customer class, and whatever a
# later filter adds to Scope) is a property of customers the rollup does not keep: the lines are read.
ROLLUP_FILTERS = frozenset({"unit", "group", "start", "end", "store", "channel"})


def reads_rollup(scope: Scope, report: Report | None = None, dimension: Dimension | None = None) -> bool:
    """Whether the view's figures can be read from the daily sales rollup: it has been built, every filter
    set is one it keeps and, for a report, the report, its chosen dimension and all its measures have a
    rollup form. The one place that decides it, for the reports and the dashboards alike."""
    if any(getattr(scope, f.name) for f in fields(scope) if f.name not in ROLLUP_FILTERS):
        return False
    if report is not None:
        if report.rollup is None or dimension is None or dimension.rollup is None:
            return False
        if any(measure.rollup is None for measure in report.measures):
            return False
    return rollup_ready()


def _aggregate_rollup(
    report: Report, dimension: Dimension, user, scope: Scope
) -> tuple[list[dict], dict[str, Any]]:
    """As `_aggregate`, over the rollup's rows: the dimension's rollup column, the measures' rollup sums."""
    assert report.rollup is not None and dimension.rollup is not None
    rows = report.rollup(user, scope)
    group = TruncMonth(dimension.rollup) if dimension.month else F(dimension.rollup)
    # Named apart from the rollup's columns: the measure "cost" must not shadow the column "cost".
    aggregates = {f"_m_{measure.key}": measure.rollup() for measure in report.measures if measure.rollup}
    records = [
        _unprefixed(record)
        for record in rows.annotate(_group=group).values("_group").annotate(**aggregates).order_by()
    ]
    for record in records:
        record["_label"] = dimension.label_of(record["_group"])
    return records, _unprefixed(rows.aggregate(**aggregates))


def _unprefixed(record: dict[str, Any]) -> dict[str, Any]:
    return {key.removeprefix("_m_"): value for key, value in record.items()}


def _figures(report: Report, user, scope: Scope) -> tuple[list[dict], dict[str, Any], dict[str, Any] | None]:
    curve = None
    if report.figures_with_curve is not None:
        figures, curve = report.figures_with_curve(user, scope)
    else:
        assert report.figures is not None
        figures = report.figures(user, scope)
    records = [{"_group": group, "_label": label, **values} for group, label, values in figures]
    totals = {
        measure.key: sum(record[measure.key] or 0 for record in records) if measure.summable else None
        for measure in report.measures
    }
    return records, totals, curve


def _value(value: Any, measure: Measure) -> Any:
    if value is not None and measure.per != 1:
        value = Decimal(str(value)) / measure.per
    if measure.average:
        return (
            None if value is None else Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        )
    if measure.money:
        return Decimal(value or 0).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return value or 0


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole or whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(TENTH, rounding=ROUND_HALF_UP)


# Periods ---------------------------------------------------------------------------------------


def _month(value: date | datetime) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(business_zone())
        return date(value.year, value.month, 1)
    return date(value.year, value.month, 1)


def _parse_month(text: str | None) -> date | None:
    if not text:
        return None
    year, _dash, month = text.partition("-")
    if not (year.isdigit() and month.isdigit() and len(year) == 4 and 1 <= int(month) <= 12):
        return None
    return date(int(year), int(month), 1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_range(field_name: str, start: date | None, end: date | None) -> dict[str, datetime]:
    """The lookups of `field_name` within the months start..end (inclusive), in business time."""
    zone = business_zone()
    lookups = {}
    if start is not None:
        lookups[f"{field_name}__gte"] = datetime.combine(start, time(), zone)
    if end is not None:
        lookups[f"{field_name}__lt"] = datetime.combine(add_months(end, 1), time(), zone)
    return lookups


def this_month(now: datetime) -> date:
    return _month(now)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), business_zone())


def days_ago(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


# Parsing a request's filters -------------------------------------------------------------------


def visible_units(user) -> list[BusinessUnit]:
    return list(BusinessUnit.objects.restrict(user, "view").order_by("code"))


def chosen_unit(params: QueryDict, user, units: list[BusinessUnit]) -> BusinessUnit | None:
    """The unit named by ?unit=<code> among the visible ones. Without one, group-wide roles see every
    unit together and everyone else their first unit (as on the Analytics page)."""
    code = params.get("unit")
    if code:
        for unit in units:
            if unit.code == code:
                return unit
        raise Http404
    if user.sees_all_units() or not units:
        return None
    return units[0]


def parse_scope(report: Report, params: QueryDict, unit: BusinessUnit | None, now: datetime) -> Scope:
    start = _parse_month(params.get("start"))
    end = _parse_month(params.get("end"))
    if start is None and end is None and report.period_months:
        end = this_month(now)
        start = add_months(end, 1 - report.period_months)
    # The customer filters count only where the report offers them (its source honours them).
    offered = {f.key for f in report.filters}
    return Scope(
        unit=unit,
        group=report.dimension(params.get("group", "")).key,
        start=start,
        end=end,
        store=params.get("store") or None,
        channel=params.get("channel") or None,
        customer_class=params.get("class") or None,
        tier=(params.get("tier") or None) if "tier" in offered else None,
        segment=(params.get("segment") or None) if "segment" in offered else None,
    )
