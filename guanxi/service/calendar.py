"""Business hours: when a service clock runs, and the maths of SLA deadlines.

A unit works on its working weekdays between its opening and closing times, in its time zone. A public
holiday (放假) is a day off even on a weekday; an adjusted working day (调休上班) is a working day even on
a weekend. `add_business_minutes` finds the moment a number of working minutes after a start;
`business_minutes_between` counts the working minutes between two moments. Both take and give aware
datetimes and never go through float.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A deadline further than this many days away is a configuration error (no working day at all).
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class BusinessCalendar:
    zone: ZoneInfo
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday is 0
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def window(self, day: date) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.opens, tzinfo=self.zone),
            datetime.combine(day, self.closes, tzinfo=self.zone),
        )

    def add_business_minutes(self, start: datetime, minutes: int) -> datetime:
        """The moment `minutes` working minutes after `start` (`start` itself for 0 inside hours; the next
        opening for 0 outside them)."""
        if self.opens >= self.closes:
            raise ValueError("A working day closes after it opens.")
        local = start.astimezone(self.zone)
        day = local.date()
        remaining = timedelta(minutes=minutes)
        for _ in range(MAX_DAYS):
            if self.is_working_day(day):
                opens, closes = self.window(day)
                begin = max(local, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError("No working time in the calendar within three years.")

    def business_minutes_between(self, start: datetime, end: datetime) -> int:
        """Working minutes from `start` to `end` (0 when `end` is not later), rounded down."""
        if end <= start:
            return 0
        first = start.astimezone(self.zone)
        last = end.astimezone(self.zone)
        total = timedelta()
        day = first.date()
        while day <= last.date():
            if self.is_working_day(day):
                opens, closes = self.window(day)
                begin, finish = max(first, opens), min(last, closes)
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return int(total.total_seconds() // 60)
