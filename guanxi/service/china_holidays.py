"""China's public holidays and adjusted working days (放假调休), as the State Council publishes them each
November for the next year (国务院办公厅关于部分节假日安排的通知). Units load a year into their own
calendar from the SLA settings page and may change any day afterwards; a year not listed here is added
by hand until the table is updated.
"""

from datetime import date, timedelta

# year -> (name, first day off, last day off, adjusted working days)
PUBLISHED: dict[int, list[tuple[str, date, date, tuple[date, ...]]]] = {
    2025: [
        ("元旦", date(2025, 1, 1), date(2025, 1, 1), ()),
        ("春节", date(2025, 1, 28), date(2025, 2, 4), (date(2025, 1, 26), date(2025, 2, 8))),
        ("清明节", date(2025, 4, 4), date(2025, 4, 6), ()),
        ("劳动节", date(2025, 5, 1), date(2025, 5, 5), (date(2025, 4, 27),)),
        ("端午节", date(2025, 5, 31), date(2025, 6, 2), ()),
        ("国庆节、中秋节", date(2025, 10, 1), date(2025, 10, 8), (date(2025, 9, 28), date(2025, 10, 11))),
    ],
    # 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04)
    2026: [
        ("元旦", date(2026, 1, 1), date(2026, 1, 3), (date(2026, 1, 4),)),
        ("春节", date(2026, 2, 15), date(2026, 2, 23), (date(2026, 2, 14), date(2026, 2, 28))),
        ("清明节", date(2026, 4, 4), date(2026, 4, 6), ()),
        ("劳动节", date(2026, 5, 1), date(2026, 5, 5), (date(2026, 5, 9),)),
        ("端午节", date(2026, 6, 19), date(2026, 6, 21), ()),
        ("中秋节", date(2026, 9, 25), date(2026, 9, 27), ()),
        ("国庆节", date(2026, 10, 1), date(2026, 10, 7), (date(2026, 9, 20), date(2026, 10, 10))),
    ],
}


def days_of(year: int) -> list[tuple[date, bool, str]]:
    """(day, is a day off, name) for every listed day of `year`; empty for a year not published here."""
    rows: list[tuple[date, bool, str]] = []
    for name, first, last, workdays in PUBLISHED.get(year, []):
        day = first
        while day <= last:
            rows.append((day, True, name))
            day += timedelta(days=1)
        rows.extend((workday, False, name) for workday in workdays)
    return sorted(rows)
