import datetime

import numpy as np
import pytest

from guanxi.analytics.summary import summarise_transactions

END = datetime.date(2024, 3, 31)


def log():
    """Three customers: a repeat buyer with a same-day pair and a late order, a one-off, a newcomer."""
    rows = [
        ("alice", "2024-01-01", 10.0),
        ("alice", "2024-01-01", 5.0),  # same day as the first: one purchase of 15
        ("alice", "2024-01-15", 20.0),
        ("alice", "2024-02-12", 40.0),
        ("alice", "2024-04-02", 99.0),  # after the calibration end
        ("bob", "2024-03-03", 7.5),
        ("carol", "2024-04-10", 12.0),  # first purchase after the end: not a customer yet
    ]
    ids, dates, amounts = zip(*rows, strict=True)
    return list(ids), [datetime.date.fromisoformat(d) for d in dates], list(amounts)


def test_summary_counts_repeat_purchase_days_in_weeks():
    summary = summarise_transactions(*log(), calibration_end=END, unit="W")

    assert summary.customer_ids.tolist() == ["alice", "bob"]
    assert summary.frequency.tolist() == [2.0, 0.0]
    assert summary.recency.tolist() == [42 / 7, 0.0]
    assert summary.age.tolist() == [90 / 7, 28 / 7]
    assert summary.monetary_value.tolist() == [30.0, 0.0]
    assert summary.unit == "W"


def test_summary_in_days():
    summary = summarise_transactions(*log(), calibration_end=END, unit="D")

    assert summary.recency.tolist() == [42.0, 0.0]
    assert summary.age.tolist() == [90.0, 28.0]


def test_monetary_value_leaves_out_the_first_purchase_day():
    ids = ["a", "a", "a"]
    dates = np.array(["2024-01-01", "2024-01-02", "2024-01-02"], dtype="datetime64[D]")
    summary = summarise_transactions(ids, dates, [100.0, 3.0, 4.0], calibration_end=END)

    assert summary.frequency.tolist() == [1.0]
    assert summary.monetary_value.tolist() == [7.0]


def test_empty_log_gives_empty_summary():
    summary = summarise_transactions([], np.array([], dtype="datetime64[D]"), [], calibration_end=END)

    assert len(summary.customer_ids) == 0
    assert len(summary.frequency) == 0


def test_unknown_unit_is_rejected():
    with pytest.raises(ValueError, match="unit"):
        summarise_transactions(*log(), calibration_end=END, unit="M")
