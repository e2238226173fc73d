"""Frequency / recency / age / monetary summaries of a transaction log, as the CLV models consume them.

The conventions are those of Fader, Hardie & Lee (2005) and of the `lifetimes` package: purchases on the
same day are one purchase; x counts repeat purchase days; t_x is the time from the first purchase to the
last; T is the time from the first purchase to the end of the calibration period; the monetary value
is the mean of the repeat purchase days' totals (the first purchase is left out, since the Gamma-Gamma
model describes repeat spend).
"""

import datetime
from dataclasses import dataclass

import numpy as np

DAYS_PER_UNIT = {"D": 1.0, "W": 7.0}


@dataclass(frozen=True)
class CustomerSummary:
    """One entry per customer who had bought by the calibration end, in `customer_ids` order; times in `unit`."""

    customer_ids: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    age: np.ndarray
    monetary_value: np.ndarray
    unit: str


def summarise_transactions(
    customer_ids, dates, amounts, calibration_end: datetime.date, unit: str = "W"
) -> CustomerSummary:
    """Build (x, t_x, T, m̄) from a log of (customer id, date, amount), counting time in `unit` ("W" or "D").

    Transactions after `calibration_end` are ignored, so are customers whose first purchase is later.
    """
    if unit not in DAYS_PER_UNIT:
        raise ValueError(f"unit must be one of {sorted(DAYS_PER_UNIT)}")
    ids = np.asarray(customer_ids)
    days = np.asarray(dates, dtype="datetime64[D]").astype(np.int64)
    values = np.asarray(amounts, dtype=float)
    end_day = np.datetime64(calibration_end, "D").astype(np.int64)
    keep = days <= end_day
    ids, days, values = ids[keep], days[keep], values[keep]
    presorted = _sorted_by_id_then_day(ids, days)
    if presorted:  # as the metrics refresh passes them: no sort needed
        new_id = np.r_[True, ids[1:] != ids[:-1]] if len(ids) else np.zeros(0, dtype=bool)
        unique_ids, codes = ids[new_id], np.cumsum(new_id) - 1
    else:
        unique_ids, codes = np.unique(ids, return_inverse=True)
        codes = codes.reshape(-1)
    day_codes, day_numbers, day_totals = _purchase_days(codes, days, values, presorted)
    per_day = DAYS_PER_UNIT[unit]
    starts = _group_starts(day_codes)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:] - 1
    ends[-1:] = len(day_codes) - 1
    frequency = (ends - starts).astype(float)
    repeat_spend = _group_sums(day_totals, starts) - day_totals[starts]
    monetary = np.divide(repeat_spend, frequency, out=np.zeros_like(repeat_spend), where=frequency > 0)
    return CustomerSummary(
        customer_ids=unique_ids,
        frequency=frequency,
        recency=(day_numbers[ends] - day_numbers[starts]) / per_day,
        age=(end_day - day_numbers[starts]) / per_day,
        monetary_value=monetary,
        unit=unit,
    )


def _sorted_by_id_then_day(ids: np.ndarray, days: np.ndarray) -> bool:
    same = ids[1:] == ids[:-1]
    return bool(np.all(ids[1:] >= ids[:-1]) and np.all(days[1:][same] >= days[:-1][same]))


def _purchase_days(codes: np.ndarray, days: np.ndarray, values: np.ndarray, presorted: bool = False):
    """Merge each customer's same-day transactions: (customer code, day, total) sorted by both."""
    if not presorted:
        order = np.lexsort((days, codes))
        codes, days, values = codes[order], days[order], values[order]
    starts = _group_starts(codes, days)
    return codes[starts], days[starts], _group_sums(values, starts)


def _group_starts(*sorted_columns: np.ndarray) -> np.ndarray:
    """Positions where any of the sorted columns changes value, the first row included."""
    changes = np.zeros(len(sorted_columns[0]), dtype=bool)
    changes[:1] = True
    for column in sorted_columns:
        changes[1:] |= column[1:] != column[:-1]
    return np.flatnonzero(changes)


def _group_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values, starts) if len(starts) else np.zeros(0)
