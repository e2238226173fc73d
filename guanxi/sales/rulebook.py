"""The rulebook's clocks, counted in whole days of the unit's time zone.

A record whose last activity fell on local day D has gone N days without activity from the start of
local day D + N: an activity logged at 23:50 on 1 March in Shanghai makes an opportunity stale after
30 days at 00:00 on 31 March Shanghai time, whenever the sweep runs after that, and a unit in
Los Angeles counts its own midnights. The same cut-off decides who is inactive.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant local day `day` starts in `zone` (a DST gap at midnight starts it at the first
    valid local time)."""
    return datetime.combine(day, time.min, tzinfo=zone)


def days_cutoff(days: int, zone: ZoneInfo, now: datetime | None = None) -> datetime:
    """Activity before this instant is at least `days` whole local days old at `now`."""
    today = timezone.localtime(now or timezone.now(), zone).date()
    return local_midnight(today - timedelta(days=days - 1), zone)


def days_since(moment: datetime, zone: ZoneInfo, now: datetime | None = None) -> int:
    """Whole local days from `moment`'s day to today's (0 on the same day)."""
    today = timezone.localtime(now or timezone.now(), zone).date()
    return (today - timezone.localtime(moment, zone).date()).days


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)
