"""Rule-based customer scores, vectorised: RFM scores and segments, ABC classes, lifecycle stages and the
seeds' customer classes. Inputs are per-customer numpy arrays; customers without orders are masked out
by the caller (`orders == 0`).
"""

import numpy as np

from guanxi.analytics.conf import AnalyticsConfig
from guanxi.analytics.models import AbcClass, CustomerClass, LifecycleStage, RfmSegment

QUINTILES = (0.2, 0.4, 0.6, 0.8)

# The common R/F grid (R and F scores 1–5) behind the named RFM segments; M does not enter the name.
# Rows are R = 5 … 1, columns F = 1 … 5. "Lost" is the bottom corner of "Hibernating" (R = 1, F = 1).
_GRID = [
    # F=1            F=2                  F=3                  F=4                 F=5
    ["new", "potential_loyalist", "potential_loyalist", "champions", "champions"],  # R=5
    ["promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"],  # R=4
    ["about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"],  # R=3
    ["hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"],  # R=2
    ["lost", "hibernating", "at_risk", "at_risk", "cant_lose"],  # R=1
]
SEGMENT_GRID = np.array([[RfmSegment(name).value for name in row] for row in _GRID[::-1]], dtype=object)


def rfm_breakpoints(recency, frequency, monetary, fixed: dict | None = None) -> dict[str, list[float]]:
    """Quintile breakpoints of each dimension (or the configured fixed ones), kept for incremental runs."""
    fixed = fixed or {}
    result = {}
    for key, values in (("r", recency), ("f", frequency), ("m", monetary)):
        if key in fixed:
            result[key] = [float(v) for v in fixed[key]]
        elif len(values):
            result[key] = [float(v) for v in np.quantile(np.asarray(values, dtype=float), QUINTILES)]
        else:
            result[key] = [0.0, 0.0, 0.0, 0.0]
    return result


def rfm_scores(recency, frequency, monetary, breakpoints: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores 1–5 from the number of breakpoints strictly below a value: F and M rise with it, R falls
    (fewer days since the last order is better). A value equal to a breakpoint joins the band below it.
    """
    f = 1 + np.searchsorted(breakpoints["f"], np.asarray(frequency, dtype=float), side="left")
    m = 1 + np.searchsorted(breakpoints["m"], np.asarray(monetary, dtype=float), side="left")
    r = 5 - np.searchsorted(breakpoints["r"], np.asarray(recency, dtype=float), side="left")
    return r.astype(np.int64), f.astype(np.int64), m.astype(np.int64)


def rfm_segments(r: np.ndarray, f: np.ndarray) -> np.ndarray:
    return SEGMENT_GRID[np.asarray(r) - 1, np.asarray(f) - 1]


def abc_cutoffs(spend: np.ndarray, config: AnalyticsConfig) -> dict[str, float]:
    """The smallest spend still in A and in B: customers are ranked by spend, and A holds those whose
    preceding cumulative share of revenue is below ABC_A_SHARE (so A reaches just past it), B likewise."""
    positive = np.sort(np.asarray(spend, dtype=float)[np.asarray(spend) > 0])[::-1]
    total = positive.sum()
    if not len(positive) or total <= 0:
        return {"a": float("inf"), "b": float("inf")}
    before = (np.cumsum(positive) - positive) / total
    in_a = before < config.ABC_A_SHARE
    in_b = before < config.ABC_B_SHARE
    return {"a": float(positive[in_a][-1]), "b": float(positive[in_b][-1])}


def abc_classes(spend: np.ndarray, cutoffs: dict) -> np.ndarray:
    spend = np.asarray(spend, dtype=float)
    # Stored as JSON, an infinite cut-off (nobody spent anything) comes back as None.
    cutoffs = {key: float("inf") if value is None else value for key, value in cutoffs.items()}
    return np.where(
        (spend > 0) & (spend >= cutoffs["a"]),
        AbcClass.A.value,
        np.where((spend > 0) & (spend >= cutoffs["b"]), AbcClass.B.value, AbcClass.C.value),
    ).astype(object)


def lifecycle_stages(orders, recency_days, tenure_days, interval_days, config: AnalyticsConfig) -> np.ndarray:
    """Seed 002's stages of the relationship (客户生命周期), first matching rule wins:

    - exploration (考察期, "just in contact, does not yet know the products"): no order yet;
    - lost (流失, the end state of 退化期): no order for more than LOST_DAYS;
    - decline (退化期, "tiring of the products"): overdue — no order for more than
      DECLINE_INTERVAL_FACTOR × the customer's own average interval (repeat buyers), or for more than
      NEW_DAYS after a single order (or after orders that were all placed on the same day);
    - exploration (考察期) still: a single order (or orders all on one day) within NEW_DAYS — trying
      the shop out;
    - development (发展期, "has bought; frequency and amount rising, still volatile"): repeat orders,
      fewer than STABLE_MIN_ORDERS or over less than STABLE_MIN_TENURE_DAYS;
    - stable (稳定期, "long-term, dependent"): at least STABLE_MIN_ORDERS orders over at least
      STABLE_MIN_TENURE_DAYS, on the customer's rhythm.
    """
    orders = np.asarray(orders)
    recency = np.asarray(recency_days, dtype=float)
    tenure = np.asarray(tenure_days, dtype=float)
    interval = np.nan_to_num(np.asarray(interval_days, dtype=float), nan=np.inf)
    # A rhythm needs orders on more than one day; orders all placed on one day are judged like one.
    has_rhythm = (orders > 1) & (interval > 0)
    overdue = np.where(
        has_rhythm, recency > config.DECLINE_INTERVAL_FACTOR * interval, recency > config.NEW_DAYS
    )
    return np.select(
        [
            orders == 0,
            recency > config.LOST_DAYS,
            overdue,
            ~has_rhythm,
            (orders < config.STABLE_MIN_ORDERS) | (tenure < config.STABLE_MIN_TENURE_DAYS),
        ],
        [
            LifecycleStage.EXPLORATION.value,
            LifecycleStage.LOST.value,
            LifecycleStage.DECLINE.value,
            LifecycleStage.EXPLORATION.value,
            LifecycleStage.DEVELOPMENT.value,
        ],
        LifecycleStage.STABLE.value,
    ).astype(object)


def customer_classes(orders, tenure_days, stages, config: AnalyticsConfig) -> np.ndarray:
    """The seeds' classes (唯品会 case: 忠诚客户, 老客户, 常客户, 新客户, 潜在客户), made operational:

    - potential: no order yet (a need, no transaction);
    - loyal: a stable relationship (lifecycle stage "stable");
    - old: a long history (first order OLD_MIN_TENURE_DAYS or more ago) without the stable pattern;
    - regular: buys repeatedly (two orders or more) within a shorter history;
    - new: one order, recently.
    """
    orders = np.asarray(orders)
    tenure = np.asarray(tenure_days, dtype=float)
    return np.select(
        [
            orders == 0,
            stages == LifecycleStage.STABLE.value,
            tenure >= config.OLD_MIN_TENURE_DAYS,
            orders >= 2,
        ],
        [
            CustomerClass.POTENTIAL.value,
            CustomerClass.LOYAL.value,
            CustomerClass.OLD.value,
            CustomerClass.REGULAR.value,
        ],
        CustomerClass.NEW.value,
    ).astype(object)
