"""Reporting periods (months, quarters, years) and how an instant falls into one in a unit's time zone."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.sales.rulebook import local_midnight, month_start, next_month


@dataclass(frozen=True)
class Period:
    """Whole local days from `start` (included) to `end` (excluded)."""

    start: date
    end: date
    kind: str = "month"

    @property
    def label(self) -> str:
        if self.kind == "year":
            return f"{self.start:%Y}"
        if self.kind == "quarter":
            return _("%(year)s Q%(quarter)s") % {
                "year": self.start.year,
                "quarter": (self.start.month - 1) // 3 + 1,
            }
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        return f"{self.start:%Y-%m-%d} – {self.end - timedelta(days=1):%Y-%m-%d}"

    @property
    def key(self) -> str:
        """What the period picker sends back: "2026-05", "2026-Q2" or "2026"."""
        if self.kind == "year":
            return f"{self.start:%Y}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start:%Y-%m}"

    def months(self) -> list[date]:
        months, month = [], month_start(self.start)
        while month < self.end:
            months.append(month)
            month = next_month(month)
        return months

    def instants_q(self, field: str, zones: Iterable[tuple[int, ZoneInfo]], unit_field: str = "unit") -> Q:
        """Rows whose `field` instant falls in the period, each unit counted in its own time zone."""
        q = Q(pk__in=[])
        for unit_id, zone in zones:
            q |= Q(
                **{
                    unit_field: unit_id,
                    f"{field}__gte": local_midnight(self.start, zone),
                    f"{field}__lt": local_midnight(self.end, zone),
                }
            )
        return q


def month(day: date) -> Period:
    return Period(month_start(day), next_month(month_start(day)), "month")


def quarter(day: date) -> Period:
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return Period(first, next_month(next_month(next_month(first))), "quarter")


def year(day: date) -> Period:
    return Period(date(day.year, 1, 1), date(day.year + 1, 1, 1), "year")


def parse(key: str | None, today: date | None = None) -> Period:
    """The period a picker key names ("2026-05", "2026-Q2", "2026"); this month when it names none."""
    today = today or timezone.localdate()
    text = (key or "").strip().upper()
    try:
        if len(text) == 4:
            return year(date(int(text), 1, 1))
        if len(text) == 7 and text[5] == "Q" and text[6] in "1234":
            return quarter(date(int(text[:4]), 3 * (int(text[6]) - 1) + 1, 1))
        if len(text) == 7 and text[4] == "-":
            return month(date(int(text[:4]), int(text[5:]), 1))
    except ValueError:
        pass
    return month(today)


def choices(today: date | None = None) -> list[Period]:
    """The periods offered in pickers: last, this and next month, this and next quarter, this year."""
    today = today or timezone.localdate()
    this_month = month(today)
    this_quarter = quarter(today)
    return [
        month(this_month.start - timedelta(days=1)),
        this_month,
        month(this_month.end),
        quarter(this_quarter.start - timedelta(days=1)),
        this_quarter,
        quarter(this_quarter.end),
        year(today),
    ]
