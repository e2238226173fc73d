"""Benchmark: CLV models (BG/NBD + Gamma-Gamma) on simulated customers, against the `lifetimes` package.

Customers are drawn from the CDNOW estimates (FHL 2005: r = 0.243, α = 4.414, a = 0.793, b = 2.426;
FHL 2005 "RFM and CLV": p = 6.25, q = 3.74, γ = 15.44) by the models' own generative story:

- purchase rate λ ~ Gamma(r, rate α), dropout probability p ~ Beta(a, b);
- the first purchase falls on a day drawn uniformly from the 39-week (273-day) calibration window, so the
  age T is a whole number of days; repeat purchases then come as a Poisson process of rate λ, and after
  each repeat purchase the customer drops out with probability p (J ~ Geometric(p) purchases at most);
- x = min(N(T), J) with N(T) ~ Poisson(λT); given N(T) = n, the x-th arrival time is T times the x-th of n
  uniform order statistics, Beta(x, n − x + 1), rounded up to a whole day (as dated orders are);
- spend: ν ~ Gamma(q, rate γ); the mean of x repeat transactions Gamma(p, rate ν) is Gamma(px, rate νx).

Both implementations get the same (x, t_x, T, m̄) arrays in weeks and do the same work: fit BG/NBD, fit
Gamma-Gamma on repeat customers, then score every customer (P(alive), expected purchases and CLV over the
next 12 months at 1 % a month). Run `python bench/clv.py [customers]`; `run(customers)` returns
the printed lines for `guanxi bench clv`.
"""

import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

from guanxi.analytics import bgnbd, clv, gammagamma
from guanxi.analytics.summary import CustomerSummary

CDNOW_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
CALIBRATION_DAYS = 273
SEED = 20050101
SPEEDUP_BUDGET = 10.0
PARAMETER_BUDGET = 1e-3
CLV_MONTHS = 12
MONTHLY_DISCOUNT = 0.01


@dataclass(frozen=True)
class Outcome:
    fit_seconds: float
    score_seconds: float
    params: dict[str, float]


def simulate(customers: int, seed: int = SEED) -> CustomerSummary:
    """Customers drawn from the CDNOW parameters as described in the module docstring, times in weeks."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(CDNOW_BGNBD["r"], 1.0 / CDNOW_BGNBD["alpha"], customers) / 7.0  # per day
    dropout = rng.beta(CDNOW_BGNBD["a"], CDNOW_BGNBD["b"], customers)
    age_days = rng.integers(0, CALIBRATION_DAYS + 1, customers)
    arrivals = rng.poisson(rate * age_days)
    repeats = np.minimum(arrivals, rng.geometric(dropout))
    last = np.zeros(customers)
    buyers = repeats > 0
    last[buyers] = np.ceil(
        age_days[buyers] * rng.beta(repeats[buyers], arrivals[buyers] - repeats[buyers] + 1)
    )
    price_rate = rng.gamma(CDNOW_GAMMA_GAMMA["q"], 1.0 / CDNOW_GAMMA_GAMMA["gamma"], customers)
    spend = np.zeros(customers)
    spend[buyers] = rng.gamma(
        CDNOW_GAMMA_GAMMA["p"] * repeats[buyers], 1.0 / (price_rate[buyers] * repeats[buyers])
    )
    return CustomerSummary(
        customer_ids=np.arange(customers),
        frequency=repeats.astype(float),
        recency=last / 7.0,
        age=age_days / 7.0,
        monetary_value=spend,
        unit="W",
    )


def run_guanxi(summary: CustomerSummary) -> Outcome:
    start = time.perf_counter()
    models = clv.fit_models(summary)
    fitted = time.perf_counter()
    purchases, spend = models.purchases.params, models.spend.params
    if not isinstance(purchases, bgnbd.BgNbdParams) or not isinstance(spend, gammagamma.GammaGammaParams):
        raise RuntimeError(f"a model fell back to empirical rates: {models.reasons}")
    clv.score_customers(models, summary, months=CLV_MONTHS, monthly_discount_rate=MONTHLY_DISCOUNT)
    scored = time.perf_counter()
    params = {"r": purchases.r, "alpha": purchases.alpha, "a": purchases.a, "b": purchases.b}
    params |= {"p": spend.p, "q": spend.q, "gamma": spend.gamma}
    return Outcome(fitted - start, scored - fitted, params)


def run_lifetimes(summary: CustomerSummary) -> Outcome:
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    warnings.simplefilter("ignore")  # lifetimes 0.11 on pandas 3 warns on every call
    start = time.perf_counter()
    x, t_x, age, m = (
        pd.Series(a) for a in (summary.frequency, summary.recency, summary.age, summary.monetary_value)
    )
    purchases = BetaGeoFitter().fit(x, t_x, age)
    repeat = x > 0
    spend = GammaGammaFitter().fit(x[repeat], m[repeat])
    fitted = time.perf_counter()
    purchases.conditional_probability_alive(x, t_x, age)
    purchases.conditional_expected_number_of_purchases_up_to_time(CLV_MONTHS * 4.345, x, t_x, age)
    spend.customer_lifetime_value(
        purchases, x, t_x, age, m, time=CLV_MONTHS, discount_rate=MONTHLY_DISCOUNT, freq="W"
    )
    scored = time.perf_counter()
    params = {**purchases.params_.to_dict(), **spend.params_.to_dict()}
    params["gamma"] = params.pop("v")
    return Outcome(fitted - start, scored - fitted, {name: float(value) for name, value in params.items()})


def run(customers: int = 1_000_000) -> list[str]:
    """Simulate, time both implementations, and return one line per figure."""
    summary = simulate(customers)
    repeat = int((summary.frequency > 0).sum())
    distinct = len(bgnbd.compress_rfm(summary.frequency, summary.recency, summary.age).x)
    lines = [
        f"clv data: {customers:,} customers, {repeat:,} repeat buyers, {distinct:,} distinct (x, t_x, T)"
    ]
    ours = run_guanxi(summary)
    try:
        with warnings.catch_warnings():
            theirs = run_lifetimes(summary)
    except ImportError as error:
        lines.append(f"clv guanxi fit: {ours.fit_seconds:.2f} s, score: {ours.score_seconds:.2f} s")
        lines.append(f"clv lifetimes: not run ({error})")
        return lines
    for phase, mine, baseline in (
        ("fit", ours.fit_seconds, theirs.fit_seconds),
        ("score", ours.score_seconds, theirs.score_seconds),
        ("fit+score", ours.fit_seconds + ours.score_seconds, theirs.fit_seconds + theirs.score_seconds),
    ):
        lines.append(
            f"clv {phase}: guanxi {mine:.2f} s, lifetimes {baseline:.2f} s, "
            f"{baseline / mine:.1f}x (budget >= {SPEEDUP_BUDGET:.0f}x)"
        )
    difference = max(abs(ours.params[k] - theirs.params[k]) / abs(theirs.params[k]) for k in ours.params)
    lines.append(
        f"clv max relative parameter difference: {difference:.1e} (budget <= {PARAMETER_BUDGET:.0e})"
    )
    lines.append("clv guanxi parameters: " + ", ".join(f"{k}={v:.4f}" for k, v in ours.params.items()))
    return lines


if __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000):
        print(line, flush=True)
