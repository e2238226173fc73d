"""Forecast accuracy of our BG/NBD backtest against the `lifetimes` package on the same splits.

- CDNOW sample (2,357 customers), weekly units, calibration to 1997-09-30 (39 weeks), holdout to
  1998-06-30 (39 weeks), same-day purchases combined — the split of Fader, Hardie & Lee (2005).
- Online Retail (customers with an id, sales invoices only), daily units, calibration to 2011-06-30,
  holdout to 2011-12-09.

Printed for each: per-customer MAE of holdout repeat purchases, total forecast vs actual, churn AUC
(no purchase in the holdout) — ours from P(no order in the holdout), lifetimes' from 1 − P(alive) —
and both BG/NBD fits. Where customers show no sign of leaving (Online Retail), ours is the NBD limit
(a = 0) and lifetimes stops somewhere on the ridge towards it (a ≈ 1e-6, any large b); r and α agree.
`lifetimes` is imported only here (it is a benchmark-only dependency).
"""

import csv
import datetime
import gzip
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from guanxi.analytics.backtest import run_backtest  # noqa: E402
from guanxi.analytics.churn import auc  # noqa: E402


def _data_dir() -> Path:
    shared = os.environ.get("GUANXI_SHARED_DATA")
    return Path(shared) if shared else REPO.parent / "shared" / "data"


def _cdnow():
    ids, dates, amounts = [], [], []
    with gzip.open(_data_dir() / "cdnow_sample.csv.gz", "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            ids.append(int(row["customer_id"]))
            dates.append(datetime.date(int(row["date"][:4]), int(row["date"][4:6]), int(row["date"][6:])))
            amounts.append(float(row["dollar_value"]))
    return np.array(ids), np.array(dates, dtype="datetime64[D]"), np.array(amounts)


def _online_retail():
    ids, dates, amounts = [], [], []
    with gzip.open(_data_dir() / "online_retail.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if not row["CustomerID"] or row["InvoiceNo"].startswith(("C", "A")):
                continue
            ids.append(int(float(row["CustomerID"])))
            dates.append(row["InvoiceDate"][:10])
            amounts.append(max(float(row["Quantity"]) * float(row["UnitPrice"]), 0.0))
    return np.array(ids), np.array(dates, dtype="datetime64[D]"), np.array(amounts)


SPLITS = {
    "CDNOW sample (39 + 39 weeks)": (_cdnow, datetime.date(1997, 9, 30), datetime.date(1998, 6, 30), "W"),
    "Online Retail (to 2011-06-30 + holdout)": (
        _online_retail,
        datetime.date(2011, 6, 30),
        datetime.date(2011, 12, 9),
        "D",
    ),
}


def run() -> list[str]:
    lines = ["Backtest accuracy: ours (guanxi.analytics.backtest) beside lifetimes 0.11 on the same split"]
    for name, (load, cutoff, end, unit) in SPLITS.items():
        try:
            ids, dates, amounts = load()
        except FileNotFoundError as error:
            lines.append(f"{name}: skipped ({error})")
            continue
        started = time.perf_counter()
        ours = run_backtest(ids, dates, amounts, cutoff, end, unit=unit)
        our_seconds = time.perf_counter() - started
        started = time.perf_counter()
        theirs = _lifetimes(ids, dates, amounts, cutoff, end, unit)
        their_seconds = time.perf_counter() - started
        lines.append(
            f"{name}: {ours.customers:,} customers, actual holdout repeat purchases {ours.actual_total:,.0f}"
        )
        lines.append(
            f"  ours      MAE {ours.mae:.4f}  forecast {ours.forecast_total:,.1f}  churn AUC {_fmt(ours.churn_auc)}  "
            f"({our_seconds:.2f} s)"
        )
        lines.append(
            f"  lifetimes MAE {theirs['mae']:.4f}  forecast {theirs['forecast']:,.1f}  churn AUC "
            f"{_fmt(theirs['auc'])}  ({their_seconds:.2f} s, ratio {their_seconds / our_seconds:.1f}x)"
        )
        fit = ours.models.purchases
        lines.append(f"  ours      BG/NBD {_params(vars(fit.params))}  ({fit.method}{_reason(fit.reason)})")
        lines.append(f"  lifetimes BG/NBD {_params(theirs['params'])}")
    return lines


def _fmt(value):
    return "n/a" if value is None else f"{value:.4f}"


def _params(values: dict) -> str:
    return "  ".join(f"{name} {float(value):.6g}" for name, value in values.items())


def _reason(reason) -> str:
    return f": {reason}" if reason else ""


def _lifetimes(ids, dates, amounts, cutoff, end, unit) -> dict:
    import pandas as pd
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import calibration_and_holdout_data

    frame = pd.DataFrame({"id": ids, "date": pd.to_datetime(dates), "amount": amounts})
    data = calibration_and_holdout_data(
        frame,
        "id",
        "date",
        calibration_period_end=pd.Timestamp(cutoff),
        observation_period_end=pd.Timestamp(end),
        freq=unit,
        monetary_value_col="amount",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BetaGeoFitter(penalizer_coef=0.0)
        model.fit(data["frequency_cal"], data["recency_cal"], data["T_cal"])
        forecast = model.conditional_expected_number_of_purchases_up_to_time(
            data["duration_holdout"], data["frequency_cal"], data["recency_cal"], data["T_cal"]
        )
        alive = model.conditional_probability_alive(data["frequency_cal"], data["recency_cal"], data["T_cal"])
    actual = data["frequency_holdout"].to_numpy()
    return {
        "mae": float(np.mean(np.abs(forecast.to_numpy() - actual))),
        "forecast": float(forecast.sum()),
        "auc": auc(1.0 - np.asarray(alive), actual == 0),
        "params": {name: model.params_[name] for name in ("r", "alpha", "a", "b")},
    }


if __name__ == "__main__":
    for line in run():
        print(line)
