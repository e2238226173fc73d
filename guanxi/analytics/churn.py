# ruff: noqa: N803, N806 - T (a customer's age) keeps the paper's capital letter
"""Churn risk and the reasons behind it.

Churn risk is the probability that a customer places no order within the next `horizon` days. Under the
BG/NBD model a customer alive at T, with posterior purchase rate λ ~ Gamma(r + x, α + T), makes no
purchase in (T, T + h] with probability ((α + T) / (α + T + h))^{r+x}, and a customer who has dropped
out never buys again, so

    P(no order in h) = 1 − P(alive) · (1 − ((α + T) / (α + T + h))^{r+x}).

Unlike 1 − P(alive), this is not zero for one-time buyers (whom the model cannot see drop out). Under
the empirical fallback the risk comes from recency alone: recency / (recency + typical interval).
"""

import json

import numpy as np

from guanxi.analytics import bgnbd

REASON_COUNT = 3
REASON_FEATURES = ("days_since_last_order", "orders", "overdue", "spend", "returns_rate")
MIN_SIGNAL = 0.05


def no_order_probability(params: bgnbd.PurchaseModel, x, t_x, T, horizon: float) -> np.ndarray | None:
    """Model-based churn risk (times in the model's unit), or None for the empirical fallback."""
    if isinstance(params, bgnbd.EmpiricalPurchaseRate):
        return None
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    alive = bgnbd.probability_alive(params, x, t_x, T)
    quiet_if_alive = np.exp((params.r + x) * (np.log(params.alpha + T) - np.log(params.alpha + T + horizon)))
    return 1.0 - alive * (1.0 - quiet_if_alive)


def recency_risk(recency_days, interval_days, typical_interval: float) -> np.ndarray:
    """Empirical churn risk: recency against the customer's own interval (or the typical one)."""
    recency = np.maximum(np.asarray(recency_days, dtype=float), 0.0)
    interval = np.asarray(interval_days, dtype=float)
    interval = np.where(np.isfinite(interval) & (interval > 0), interval, typical_interval)
    return recency / (recency + interval)


def reference_values(recency_days, orders, spend) -> dict[str, float]:
    """Scope medians the reasons compare a customer with; stored with the run for incremental scoring."""
    if not len(orders):
        return {"recency_days": 0.0, "orders": 1.0, "spend": 0.0}
    return {
        "recency_days": float(np.median(recency_days)),
        "orders": float(np.median(orders)),
        "spend": float(np.median(spend)),
    }


def top_reasons(
    recency_days, orders, spend, interval_days, returns_rate, reference: dict
) -> tuple[tuple[str, ...], np.ndarray]:
    """Each customer's strongest risk drivers as JSON text: [{"feature": name, "direction": "up"|"down"}, …],
    returned as the distinct texts and, per customer, the position of theirs.

    Signals are log-ratios against the scope's medians (and, for repeat buyers, recency against their own
    interval); "up" raises the churn risk. These explain the figure in plain terms, they are not model
    attributions.
    """
    recency = np.maximum(np.asarray(recency_days, dtype=float), 0.0)
    orders = np.asarray(orders, dtype=float)
    spend = np.maximum(np.asarray(spend, dtype=float), 0.0)
    interval = np.asarray(interval_days, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        overdue = np.where(
            np.isfinite(interval) & (interval > 0), np.log((recency + 1) / (interval + 1)), 0.0
        )
    signals = np.column_stack(
        [
            np.log((recency + 1) / (reference["recency_days"] + 1)),
            -np.log(np.maximum(orders, 1) / max(reference["orders"], 1)),
            overdue,
            -0.5 * np.log((spend + 1) / (reference["spend"] + 1)),
            2.0 * np.asarray(returns_rate, dtype=float),
        ]
    )
    return encode_reasons(signals, REASON_FEATURES, MIN_SIGNAL)


def encode_reasons(
    signals: np.ndarray, features: tuple[str, ...], min_signal: float
) -> tuple[tuple[str, ...], np.ndarray]:
    """The REASON_COUNT strongest of each row's signals (one column per feature; positive raises the risk,
    weaker than `min_signal` is left out) as JSON texts: the distinct texts and each row's position."""
    strongest = np.argsort(-np.abs(signals), axis=1)[:, :REASON_COUNT]
    picked = np.take_along_axis(signals, strongest, axis=1)
    # Encode each row's reasons as one small integer (feature, direction, shown) per slot, so the JSON
    # text is built and stored once per distinct combination rather than once per customer.
    slot_codes = strongest * 3 + np.where(np.abs(picked) <= min_signal, 0, np.where(picked > 0, 1, 2))
    codes = (slot_codes * (len(features) * 3) ** np.arange(slot_codes.shape[1])).sum(axis=1)
    distinct, inverse = np.unique(codes, return_inverse=True)
    texts = tuple(_reasons_json(int(code), features, slot_codes.shape[1]) for code in distinct)
    return texts, inverse.reshape(-1).astype(np.int64)


def _reasons_json(code: int, features: tuple[str, ...], slots: int) -> str:
    base = len(features) * 3
    reasons = []
    for _slot in range(slots):
        code, slot = divmod(code, base)
        feature, shown = divmod(slot, 3)
        if shown:
            reasons.append({"feature": features[feature], "direction": "up" if shown == 1 else "down"})
    return json.dumps(reasons)


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann–Whitney, ties averaged); None when only one class occurs."""
    labels = np.asarray(labels, dtype=bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if not positives or not negatives:
        return None
    ranks = _average_ranks(np.asarray(scores, dtype=float))
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1…n with ties given their mean rank (scipy.stats.rankdata, without importing scipy.stats)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def calibration_table(scores: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict]:
    """Predicted against observed churn share in equal-width bins of predicted risk."""
    scores = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
    labels = np.asarray(labels, dtype=float)
    index = np.minimum((scores * bins).astype(int), bins - 1)
    table = []
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        if not count:
            continue
        table.append(
            {
                "bin": f"{b / bins:.1f}–{(b + 1) / bins:.1f}",
                "customers": count,
                "predicted": round(float(scores[inside].mean()), 4),
                "observed": round(float(labels[inside].mean()), 4),
            }
        )
    return table
