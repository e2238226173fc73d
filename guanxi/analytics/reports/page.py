"""The Analytics page's content: each analysis computed on first use, its chart data and its table.

An export asks for one table, so only the analysis behind it is computed.
"""

from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from guanxi.analytics.conf import analytics_config
from guanxi.analytics.reports import metrics as metric_reports
from guanxi.analytics.reports import orders as order_reports
from guanxi.core.exports import Table


class StoreAnalyses:
    """The analyses of one scope: `orders` and `metrics` are already restricted to what the user may
    see and to the chosen business unit."""

    def __init__(
        self,
        orders: QuerySet,
        metrics: QuerySet,
        *,
        currency: str,
        annual_target: Decimal | None = None,
        now: datetime | None = None,
    ) -> None:
        self.orders = orders
        self.metrics_rows = metrics
        self.currency = currency
        self.annual_target = annual_target
        self.now = now or timezone.now()

    @cached_property
    def end(self) -> date | None:
        return order_reports.last_sale_month(self.orders, self.currency, self.now)

    @property
    def has_sales(self) -> bool:
        return self.end is not None

    @cached_property
    def cohorts(self) -> order_reports.CohortMatrix:
        if self.end is None:
            return order_reports.CohortMatrix(order_reports.COHORT_MONTHS, ())
        return order_reports.cohort_retention(self.orders, self.currency, self.end)

    @cached_property
    def returning(self) -> tuple[order_reports.RevenueSplit, ...]:
        return order_reports.returning_revenue(self.orders, self.currency, self.end) if self.end else ()

    @cached_property
    def devices(self) -> tuple[order_reports.DeviceMonth, ...]:
        return order_reports.device_share(self.orders, self.currency, self.end) if self.end else ()

    @cached_property
    def abc_shares(self) -> tuple[Decimal, Decimal]:
        """A's and B's cumulative revenue shares (%): those of the metrics store's ABC classes, so the
        curve, the classes and the split within customer classes agree."""
        config = analytics_config()
        return Decimal(str(config.ABC_A_SHARE)) * 100, Decimal(str(config.ABC_B_SHARE)) * 100

    @cached_property
    def pareto(self) -> order_reports.ParetoCurve:
        a_share, b_share = self.abc_shares
        return order_reports.pareto(self.orders, self.currency, a_share=a_share, b_share=b_share)

    @cached_property
    def abc_by_class(self) -> tuple[metric_reports.ClassAbc, ...]:
        return metric_reports.abc_within_classes(self.metrics_rows, *self.abc_shares)

    @cached_property
    def categories(self) -> tuple[order_reports.SalesSlice, ...]:
        return order_reports.sales_by_category(self.orders, self.currency, self.end) if self.end else ()

    @cached_property
    def channels(self) -> tuple[order_reports.SalesSlice, ...]:
        return order_reports.sales_by_channel(self.orders, self.currency, self.end) if self.end else ()

    @cached_property
    def provinces(self) -> tuple[order_reports.SalesSlice, ...]:
        return order_reports.sales_by_province(self.orders, self.currency, self.end) if self.end else ()

    @cached_property
    def seasonal(self) -> order_reports.SeasonalIndex:
        return order_reports.seasonal_index(self.orders, self.currency, self.now)

    @cached_property
    def targets(self) -> tuple[order_reports.MonthTarget, ...]:
        if self.annual_target is None:
            return ()
        return order_reports.monthly_targets(self.seasonal, self.annual_target)

    @cached_property
    def seasonal_rows(self) -> list[dict[str, Any]]:
        """The seasonal table: one row per month, with its target when an annual target was given."""
        targets = {target.month: target.target for target in self.targets}
        return [
            {
                "month": month.month,
                "name": str(MONTHS[month.month]),
                "average": month.average,
                "index_percent": month.index_percent,
                "share": order_reports.percent(month.revenue, self.seasonal.total),
                "target": targets.get(month.month),
            }
            for month in self.seasonal.months
        ]

    @cached_property
    def metrics(self) -> metric_reports.MetricsReport | None:
        return metric_reports.metrics_report(self.metrics_rows)

    # Chart data -------------------------------------------------------------------------------

    def charts(self) -> dict[str, Any]:
        """What the page's scripts draw. Amounts become numbers only here, for the browser."""
        charts = {
            "cohorts": self._cohort_chart(),
            "returning": _stacked(
                [split.month.strftime("%Y-%m") for split in self.returning],
                [
                    (_("New customers"), [float(split.new) for split in self.returning]),
                    (_("Returning customers"), [float(split.returning) for split in self.returning]),
                ],
            ),
            "devices": _stacked(
                [month.month.strftime("%Y-%m") for month in self.devices],
                [
                    (_("Mobile"), [_share(month.mobile, month.total) for month in self.devices]),
                    (_("PC"), [_share(month.pc, month.total) for month in self.devices]),
                    (_("Other or unknown"), [_share(month.other, month.total) for month in self.devices]),
                ],
                percent=True,
            ),
            "pareto": {
                "kind": "pareto",
                "points": [[float(p.customer_share), float(p.revenue_share)] for p in self.pareto.points],
                "marks": [float(self.pareto.a_share), float(self.pareto.b_share)],
                "x_label": _("Share of customers (%)"),
                "y_label": _("Share of revenue (%)"),
            },
            "seasonal": {
                "kind": "columns",
                "labels": [row["name"] for row in self.seasonal_rows],
                "values": [float(row["index_percent"]) for row in self.seasonal_rows],
                "series_label": _("Seasonal index (%)"),
                "mark": 100,
            },
            "categories": _bar(self.categories),
            "channels": _bar(self.channels),
            "provinces": _bar(self.provinces),
        }
        if self.metrics:
            charts.update(self._metric_charts(self.metrics))
        return charts

    def _cohort_chart(self) -> dict[str, Any]:
        rows = self.cohorts.rows
        return {
            "kind": "heatmap",
            "x_labels": [f"+{k}" for k in range(1, self.cohorts.offsets + 1)],
            "y_labels": [f"{row.month:%Y-%m} ({row.customers})" for row in rows],
            "values": [
                [x, y, float(share)]
                for y, row in enumerate(rows)
                for x, share in enumerate(row.shares)
                if share is not None
            ],
            "series_label": _("Ordered again (%)"),
            "suffix": "%",
        }

    def _metric_charts(self, report: metric_reports.MetricsReport) -> dict[str, Any]:
        return {
            "rfm": {
                "kind": "heatmap",
                "x_labels": [str(f) for f in metric_reports.SCORES],
                "y_labels": [str(r) for r in metric_reports.SCORES],
                "x_name": _("F score"),
                "y_name": _("R score"),
                "values": [[cell.f_score - 1, cell.r_score - 1, cell.customers] for cell in report.rfm],
                "series_label": _("Customers"),
                "suffix": "",
            },
            "clv": {
                "kind": "columns",
                "labels": [_bin_label(b) for b in report.clv],
                "values": [b.customers for b in report.clv],
                "series_label": _("Customers"),
            },
            "abc": _bar_counts(report.abc),
            "lifecycle": _bar_counts(report.lifecycle),
            "abc_by_class": _stacked(
                [row.label for row in self.abc_by_class],
                [
                    (label, [float(row.abc[k].customer_share or 0) for row in self.abc_by_class])
                    for k, label in enumerate(("A", "B", "C"))
                ],
                percent=True,
            ),
        }

    # Tables for export --------------------------------------------------------------------------

    TABLE_NAMES = (
        "cohorts", "returning", "devices", "pareto", "categories", "channels", "provinces", "seasonal",
        "rfm", "clv", "abc", "lifecycle", "abc_by_class",
    )  # fmt: skip

    def table(self, name: str) -> Table | None:
        if name not in self.TABLE_NAMES:
            return None
        return getattr(self, f"_{name}_table")()

    def _cohorts_table(self) -> Table:
        offsets = range(1, self.cohorts.offsets + 1)
        return Table(
            "cohorts",
            _("Cohort retention"),
            (
                _("First order month"),
                _("Customers"),
                *[_("Month +%(offset)s (%%)") % {"offset": k} for k in offsets],
            ),
            tuple((f"{row.month:%Y-%m}", row.customers, *row.shares) for row in self.cohorts.rows),
        )

    def _returning_table(self) -> Table:
        return Table(
            "returning",
            _("New and returning customers' revenue"),
            (_("Month"), _("New customers"), _("Returning customers"), _("Returning share (%)")),
            tuple((f"{s.month:%Y-%m}", s.new, s.returning, s.returning_share) for s in self.returning),
        )

    def _devices_table(self) -> Table:
        return Table(
            "devices",
            _("Mobile and PC"),
            (
                _("Month"),
                _("Mobile"),
                _("PC"),
                _("Other or unknown"),
                _("Mobile share (%)"),
                _("PC share (%)"),
            ),
            tuple(
                (f"{m.month:%Y-%m}", m.mobile, m.pc, m.other, m.mobile_share, m.pc_share)
                for m in self.devices
            ),
        )

    def _pareto_table(self) -> Table:
        return Table(
            "pareto",
            _("ABC analysis"),
            (
                _("Class"),
                _("Customers"),
                _("Revenue"),
                _("Share of customers (%)"),
                _("Share of revenue (%)"),
            ),
            tuple(
                (c.abc_class, c.customers, c.revenue, c.customer_share, c.revenue_share)
                for c in self.pareto.classes
            ),
        )

    def _slice_table(self, name: str, title: str, label: str, slices) -> Table:
        return Table(
            name,
            title,
            (label, _("Revenue"), _("Orders"), _("Share of revenue (%)")),
            tuple((s.label, s.revenue, s.orders, s.share) for s in slices),
        )

    def _categories_table(self) -> Table:
        return self._slice_table("categories", _("Sales by category"), _("Category"), self.categories)

    def _channels_table(self) -> Table:
        return self._slice_table("channels", _("Sales by channel"), _("Channel"), self.channels)

    def _provinces_table(self) -> Table:
        return self._slice_table("provinces", _("Sales by province"), _("Province"), self.provinces)

    def _seasonal_table(self) -> Table:
        return Table(
            "seasonal",
            _("Seasonal index"),
            (
                _("Month"),
                _("Average revenue"),
                _("Seasonal index (%)"),
                _("Share of the year (%)"),
                _("Target"),
            ),
            tuple(
                (row["month"], row["average"], row["index_percent"], row["share"], row["target"])
                for row in self.seasonal_rows
            ),
        )

    def _rfm_table(self) -> Table:
        cells = self.metrics.rfm if self.metrics else ()
        return Table(
            "rfm",
            _("RFM grid"),
            (_("R score"), _("F score"), _("Customers"), _("Average total spend")),
            tuple((c.r_score, c.f_score, c.customers, c.mean_spend) for c in cells),
        )

    def _clv_table(self) -> Table:
        bins = self.metrics.clv if self.metrics else ()
        return Table(
            "clv",
            _("Predicted lifetime value"),
            (pgettext("value range", "From"), pgettext("value range", "Below"), _("Customers")),
            tuple((b.low, b.high, b.customers) for b in bins),
        )

    def _abc_table(self) -> Table:
        return self._count_table(
            "abc", _("ABC classes"), _("Class"), self.metrics.abc if self.metrics else ()
        )

    def _abc_by_class_table(self) -> Table:
        return Table(
            "abc_by_class",
            _("ABC within each customer class"),
            (
                _("Customer class"),
                _("Class"),
                _("Customers"),
                _("Revenue"),
                _("Share of the customer class's customers (%)"),
                _("Share of the customer class's revenue (%)"),
            ),
            tuple(
                (row.label, abc.abc_class, abc.customers, abc.revenue, abc.customer_share, abc.revenue_share)
                for row in self.abc_by_class
                for abc in row.abc
            ),
        )

    def _lifecycle_table(self) -> Table:
        counts = self.metrics.lifecycle if self.metrics else ()
        return self._count_table("lifecycle", _("Lifecycle stages"), _("Stage"), counts)

    def _count_table(self, name: str, title: str, label: str, counts) -> Table:
        return Table(
            name,
            title,
            (label, _("Customers"), _("Total spend")),
            tuple((c.label, c.customers, c.spend) for c in counts),
        )


def _share(part: Decimal, whole: Decimal) -> float:
    value = order_reports.percent(part, whole)
    return float(value) if value is not None else 0.0


def _stacked(
    labels: list[str], series: list[tuple[str, list[float]]], percent: bool = False
) -> dict[str, Any]:
    return {
        "kind": "stacked",
        "labels": labels,
        "series": [{"name": name, "values": values} for name, values in series],
        "percent": percent,
    }


def _bar(slices) -> dict[str, Any]:
    return {
        "kind": "bar",
        "labels": [s.label for s in slices],
        "values": [float(s.revenue) for s in slices],
        "series_label": _("Revenue"),
    }


def _bar_counts(counts) -> dict[str, Any]:
    return {
        "kind": "bar",
        "labels": [c.label for c in counts],
        "values": [c.customers for c in counts],
        "series_label": _("Customers"),
    }


def _bin_label(clv_bin: metric_reports.ClvBin) -> str:
    if clv_bin.high is None:
        return f"≥ {clv_bin.low:,.0f}"
    return f"{clv_bin.low:,.0f}–{clv_bin.high:,.0f}"
