"""Tunable rules of the customer metrics, read from `settings.GUANXI_ANALYTICS` (a dict) over defaults.

Every key of `AnalyticsConfig` may be overridden there, e.g. ``GUANXI_ANALYTICS = {"LOST_DAYS": 540}``.
"""

from dataclasses import dataclass, fields

from django.conf import settings


@dataclass(frozen=True)
class AnalyticsConfig:
    # ABC (Pareto on spend): A = the customers making up the top 75 % of revenue, B the next 20 %, C the rest.
    ABC_A_SHARE: float = 0.75
    ABC_B_SHARE: float = 0.95
    # Fixed R/F/M breakpoints (four ascending values each) instead of quintiles, e.g. {"f": [1, 2, 3, 5]}.
    RFM_BREAKPOINTS: dict | None = None
    # CLV: horizon, monthly discount rate and gross margin applied to spend.
    CLV_MONTHS: int = 12
    MONTHLY_DISCOUNT_RATE: float = 0.01
    MARGIN: float = 1.0
    # Churn risk is the probability of no order within this many days.
    CHURN_HORIZON_DAYS: int = 90
    # Lifecycle rules (see guanxi.analytics.scores.lifecycle_stages).
    NEW_DAYS: int = 90
    STABLE_MIN_ORDERS: int = 4
    STABLE_MIN_TENURE_DAYS: int = 365
    DECLINE_INTERVAL_FACTOR: float = 2.0
    LOST_DAYS: int = 365
    # Customer classes of the seeds (see guanxi.analytics.scores.customer_classes).
    OLD_MIN_TENURE_DAYS: int = 365
    # Backtest: hold out this many days at the end of the history (at most half of it).
    BACKTEST_HOLDOUT_DAYS: int = 180
    BACKTEST_MIN_DAYS: int = 28
    # Refit the models on an incremental run when the last fit is older than this.
    REFIT_AFTER_DAYS: int = 7


def analytics_config() -> AnalyticsConfig:
    overrides = getattr(settings, "GUANXI_ANALYTICS", {}) or {}
    known = {f.name for f in fields(AnalyticsConfig)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"Unknown GUANXI_ANALYTICS keys: {sorted(unknown)}")
    return AnalyticsConfig(**overrides)
