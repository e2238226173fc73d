"""When demo customers shop: a demand curve over the days of the window and the hours of a day.

Each business unit gets a daily weight (weekday × shopping festivals × Chinese New Year). Customers
buy as Poisson processes in "demand time" (the running sum of those weights), so every customer
feels 618, Double 11 and the holiday dip without any per-order rejection sampling.
"""

from bisect import bisect_right
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from guanxi.demo.reference import SPRING_FESTIVAL

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = 86_400
WEEKDAY = (0.94, 0.95, 0.96, 0.98, 1.0, 1.08, 1.09)
# Relative orders per local hour: quiet at night, a lunch bump, the evening peak at 20–22 h.
HOURS_NORMAL = (3, 1.5, 0.8, 0.5, 0.4, 0.5, 1, 2, 3, 4, 5, 5, 5.5, 5, 4.5, 4.5, 4.5, 4, 4.5, 6, 8, 9, 7, 5)
# Festival days open at midnight: the first hour is the busiest of the year.
HOURS_FESTIVAL = (40, 6, 2, 1, 0.6, 0.6, 1, 2, 3, 4, 5, 5, 5.5, 5, 4.5, 4.5, 4.5, 4, 4.5, 6, 9, 10, 8, 6)
HOURS_OFFLINE = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 4, 5, 5, 6, 6, 5, 5, 6, 7, 6, 4, 0, 0)
HOURS_CUMULATIVE = {
    name: tuple(accumulate(weights))
    for name, weights in (("normal", HOURS_NORMAL), ("festival", HOURS_FESTIVAL), ("offline", HOURS_OFFLINE))
}
# Share of orders a unit's promotions pull forward, per unit: beauty lives on Women's Day and 520.
UNIT_BOOST = {
    "home": {"women": 1.0, "520": 1.0, "cny": 1.6},
    "beauty": {"women": 1.8, "520": 1.6, "cny": 1.3},
}


class DemandCalendar:
    """Days of the window [start, anchor], their weights per unit, and time sampling."""

    def __init__(self, anchor: datetime, unit_codes: list[str], growth: float = 0.6):
        self.anchor_ts = int(anchor.timestamp())
        last_day = anchor.astimezone(SHANGHAI).date()
        self.start = _months_before(last_day, 24) + timedelta(days=1)
        self.days = (last_day - self.start).days + 1
        dates = [self.start + timedelta(days=d) for d in range(self.days)]
        self.start_ts = int(datetime.combine(self.start, time(), SHANGHAI).timestamp())
        self.day_start = [int(datetime.combine(d, time(), SHANGHAI).timestamp()) for d in dates]
        factors = [_festival(d) for d in dates]
        self.festival = [f[1] for f in factors]
        self.discount = [f[2] for f in factors]
        self.cumulative: dict[str, list[float]] = {}
        self.arrivals: dict[str, list[float]] = {}
        for code in unit_codes:
            boost = UNIT_BOOST.get(code, UNIT_BOOST["home"])
            weights = [WEEKDAY[d.weekday()] * f[0](boost) for d, f in zip(dates, factors, strict=True)]
            mean = sum(weights) / len(weights)
            weights = [w / mean for w in weights]  # demand time is measured in average days
            self.cumulative[code] = list(accumulate(weights, initial=0.0))
            # New customers arrive with the demand curve and a business that grows over the window.
            grown = [w * (1 + growth * d / self.days) for d, w in enumerate(weights)]
            self.arrivals[code] = list(accumulate(grown, initial=0.0))

    def total(self, code: str) -> float:
        return self.cumulative[code][-1]

    def tau(self, code: str, ts: int) -> float:
        """Demand time elapsed at a timestamp (clamped to the window)."""
        day = min(max((ts - self.start_ts) // DAY, 0), self.days - 1)
        cumulative = self.cumulative[code]
        fraction = min(max((ts - self.day_start[day]) / DAY, 0.0), 1.0)
        return cumulative[day] + fraction * (cumulative[day + 1] - cumulative[day])

    def day_at(self, code: str, tau: float) -> int:
        return min(bisect_right(self.cumulative[code], tau) - 1, self.days - 1)

    def arrival_day(self, code: str, u: float) -> int:
        arrivals = self.arrivals[code]
        return min(bisect_right(arrivals, u * arrivals[-1]) - 1, self.days - 1)

    def moment(self, rng, day: int, offline: bool) -> int:
        """A timestamp on the given day, at an hour people actually shop; never after the anchor."""
        hours = HOURS_CUMULATIVE["offline" if offline else "festival" if self.festival[day] else "normal"]
        hour = bisect_right(hours, rng.random() * hours[-1])
        ts = self.day_start[day] + hour * 3600 + int(rng.random() * 3600)
        if ts > self.anchor_ts:  # the anchor's own day ends at the anchor
            ts = self.day_start[day] + int(rng.random() * (self.anchor_ts - self.day_start[day] + 1))
        return ts


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _festival(day: date):
    """(weight given the unit's boosts, festival opening day?, list-price percentage) for one day."""
    m, d = day.month, day.day
    if (m, d) == (11, 11):
        return (lambda b: 8.0), True, 80
    if m == 11 and d <= 10:
        return (lambda b: 2.4), d == 1, 85
    if m == 11 and d <= 20:
        return (lambda b: 0.8), False, 100
    if m == 10 and d >= 20:
        return (lambda b: 1.25), False, 95  # Double 11 pre-sale deposits
    if (m, d) == (6, 18):
        return (lambda b: 6.0), True, 82
    if m == 6 and d < 18:
        return (lambda b: 1.9), d == 1, 88
    if m == 6 and d <= 25:
        return (lambda b: 0.85), False, 100
    if (m, d) == (12, 12):
        return (lambda b: 2.5), True, 88
    if (m, d) == (3, 8):
        return (lambda b: 2.2 * b["women"]), False, 88
    if m == 3 and d < 8:
        return (lambda b: 1.0 + 0.4 * b["women"]), False, 92
    if (m, d) == (5, 20):
        return (lambda b: 1.0 + 0.5 * b["520"]), False, 95
    if (m, d) == (9, 9):
        return (lambda b: 1.5), False, 92
    for year in (day.year, day.year + 1):  # the run-up can start in late December
        festival = SPRING_FESTIVAL.get(year)
        if not festival:
            continue
        offset = (day - date(year, *festival)).days
        if -25 <= offset <= -8:
            return (lambda b: b["cny"]), False, 95  # 年货节: stocking up before couriers stop
        if -7 <= offset <= 6:
            return (lambda b: 0.45), False, 100
        if 7 <= offset <= 14:
            return (lambda b: 0.9), False, 100
    return (lambda b: 1.0), False, 100
