# ruff: noqa: N806 - T (a customer's age) keeps the paper's capital letter
"""Reproduction of the published CDNOW estimates, and CLV from the two models.

Data preparation (the one FHL used, and `lifetimes`' CDNOW summaries): the 1/10 sample of CDNOW's
Q1-1997 cohort, calibration period ending 1997-09-30 (39 weeks), time in weeks as days / 7, same-day
purchases combined into one. BG/NBD is fitted on all 2,357 customers; Gamma-Gamma on the 946 customers
with a repeat purchase in the calibration period, m̄ being the mean *dollar* value of their repeat
purchase days in that period (the first purchase left out). With exactly this preparation both models
reproduce the published estimates to every printed digit.
"""

import csv
import datetime
import gzip

import numpy as np
import pytest

from guanxi.analytics import bgnbd, clv
from guanxi.analytics.fitting import FallbackReason, FitMethod
from guanxi.analytics.summary import CustomerSummary, summarise_transactions

CALIBRATION_END = datetime.date(1997, 9, 30)


@pytest.fixture(scope="module")
def cdnow(shared_data) -> CustomerSummary:
    with gzip.open(shared_data("cdnow_sample.csv.gz"), "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return summarise_transactions(
        [row["customer_id"] for row in rows],
        [datetime.datetime.strptime(row["date"], "%Y%m%d").date() for row in rows],  # noqa: DTZ007 - a calendar date
        [float(row["dollar_value"]) for row in rows],
        calibration_end=CALIBRATION_END,
        unit="W",
    )


@pytest.fixture(scope="module")
def cdnow_models(cdnow) -> clv.ClvModels:
    return clv.fit_models(cdnow)


def test_cdnow_summary_matches_fhl(cdnow):
    # FHL's customer 1 (ID 00004): x = 2, t_x = 30.43, T = 38.86, repeat purchases of 29.73 and 14.96
    assert len(cdnow.customer_ids) == 2357
    assert int((cdnow.frequency > 0).sum()) == 946
    assert cdnow.customer_ids[0] == "00004"
    assert cdnow.frequency[0] == 2
    assert round(cdnow.recency[0], 2) == 30.43
    assert round(cdnow.age[0], 2) == 38.86
    assert cdnow.monetary_value[0] == pytest.approx(22.345)


def test_bgnbd_reproduces_fhl_2005(cdnow_models):
    fit = cdnow_models.purchases
    params = fit.params

    assert fit.method == FitMethod.MAXIMUM_LIKELIHOOD
    assert (round(params.r, 3), round(params.alpha, 3), round(params.a, 3), round(params.b, 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert round(fit.log_likelihood, 1) == -9582.4


def test_gamma_gamma_reproduces_fhl_rfm_and_clv(cdnow_models):
    fit = cdnow_models.spend
    params = fit.params

    assert fit.method == FitMethod.MAXIMUM_LIKELIHOOD
    assert fit.customers == 946
    assert (round(params.p, 2), round(params.q, 2), round(params.gamma, 2)) == (6.25, 3.74, 15.44)


def test_predictions_match_lifetimes_documentation(cdnow_models):
    # lifetimes' README: the five customers most likely to buy next week, fitted to the same data
    x = [18, 19, 17, 29, 26]
    t_x = [35.14, 34.00, 28.43, 37.71, 30.86]
    T = [35.86, 34.14, 28.86, 38.00, 31.00]

    expected = bgnbd.expected_purchases(cdnow_models.purchases.params, 1, x, t_x, T)

    np.testing.assert_allclose(expected, [0.424877, 0.474738, 0.486526, 0.662396, 0.710623], rtol=1e-5)


def test_clv_of_fhl_customer_one(cdnow_models, cdnow):
    # 12 months at 1 %/month; lifetimes 0.11.3's customer_lifetime_value gives 36.27397749 on the same fit
    value = clv.customer_lifetime_value(cdnow_models, cdnow, months=12, monthly_discount_rate=0.01)

    assert value[0] == pytest.approx(36.27397749, rel=1e-7)
    assert np.all(np.isfinite(value))


def test_scores_are_consistent(cdnow_models, cdnow):
    scores = clv.score_customers(cdnow_models, cdnow, months=12, monthly_discount_rate=0.0, margin=0.3)
    params = cdnow_models.purchases.params
    x, t_x, T = cdnow.frequency, cdnow.recency, cdnow.age

    np.testing.assert_allclose(
        scores.probability_alive, bgnbd.probability_alive(params, x, t_x, T), rtol=1e-14
    )
    np.testing.assert_allclose(
        scores.expected_purchases, bgnbd.expected_purchases(params, 12 * 4.345, x, t_x, T), rtol=1e-12
    )
    # without discounting, CLV is expected purchases × expected spend × margin
    np.testing.assert_allclose(
        scores.lifetime_value, scores.expected_purchases * scores.expected_spend * 0.3, rtol=1e-12
    )


def tiny_summary(frequency, recency, age, spend) -> CustomerSummary:
    return CustomerSummary(
        customer_ids=np.arange(len(frequency)),
        frequency=np.asarray(frequency, dtype=float),
        recency=np.asarray(recency, dtype=float),
        age=np.asarray(age, dtype=float),
        monetary_value=np.asarray(spend, dtype=float),
        unit="W",
    )


def test_single_customer_gets_an_empirical_clv():
    summary = tiny_summary([2], [6.0], [10.0], [15.0])

    models = clv.fit_models(summary)
    scores = clv.score_customers(models, summary, months=2, monthly_discount_rate=0.0)

    assert models.method == FitMethod.EMPIRICAL
    assert models.reasons == (FallbackReason.TOO_FEW_CUSTOMERS, FallbackReason.TOO_FEW_REPEAT_CUSTOMERS)
    # 0.2 purchases a week over 2 × 4.345 weeks, at the customer's own 15 a purchase
    assert scores.expected_purchases[0] == pytest.approx(0.2 * 8.69)
    assert scores.lifetime_value[0] == pytest.approx(0.2 * 8.69 * 15.0)
    assert np.isnan(scores.probability_alive[0])


def test_one_off_buyers_only_have_zero_clv():
    summary = tiny_summary(np.zeros(40), np.zeros(40), np.full(40, 20.0), np.zeros(40))

    models = clv.fit_models(summary)
    value = clv.customer_lifetime_value(models, summary)

    assert models.method == FitMethod.EMPIRICAL
    assert value.tolist() == [0.0] * 40


def test_all_zero_spend_gives_zero_clv_with_a_fitted_purchase_model():
    # purchases drawn from the BG/NBD story with the CDNOW parameters, over 39 weeks
    rng = np.random.default_rng(1)
    rate = rng.gamma(0.243, 1 / 4.414, 2000)
    age = rng.integers(0, 40, 2000).astype(float)
    arrivals = rng.poisson(rate * age)
    frequency = np.minimum(arrivals, rng.geometric(rng.beta(0.793, 2.426, 2000))).astype(float)
    recency = np.where(frequency > 0, age * rng.beta(np.maximum(frequency, 1), arrivals - frequency + 1), 0.0)
    summary = tiny_summary(frequency, recency, age, np.zeros(2000))

    models = clv.fit_models(summary)
    value = clv.customer_lifetime_value(models, summary)

    assert models.purchases.method == FitMethod.MAXIMUM_LIKELIHOOD
    assert models.spend.reason == FallbackReason.NO_SPEND
    assert models.method == FitMethod.EMPIRICAL
    assert np.all(value == 0.0)


def test_summary_and_models_must_share_a_time_unit(cdnow_models, cdnow):
    in_days = CustomerSummary(
        cdnow.customer_ids, cdnow.frequency, cdnow.recency * 7, cdnow.age * 7, cdnow.monetary_value, "D"
    )

    with pytest.raises(ValueError, match="unit"):
        clv.customer_lifetime_value(cdnow_models, in_days)


def test_online_retail_fits_the_no_dropout_limit_as_lifetimes_does(shared_data):
    # Online Retail customers with an id, sales invoices only, daily units, calibration to 2011-06-30
    # (the split of `guanxi bench clv-accuracy`): nobody shows signs of leaving, and `lifetimes` 0.11
    # stops on the no-dropout ridge at r = 0.7444265, α = 63.33641 (a ≈ 9e-7, b ≈ 1.4e4).
    ids, dates, amounts = [], [], []
    with gzip.open(shared_data("online_retail.csv.gz"), "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["CustomerID"] and not row["InvoiceNo"].startswith(("C", "A")):
                ids.append(row["CustomerID"])
                dates.append(row["InvoiceDate"][:10])
                amounts.append(max(float(row["Quantity"]) * float(row["UnitPrice"]), 0.0))
    summary = summarise_transactions(
        ids, np.array(dates, dtype="datetime64[D]"), amounts, datetime.date(2011, 6, 30), unit="D"
    )

    result = bgnbd.fit(summary.frequency, summary.recency, summary.age)

    assert (len(summary.customer_ids), result.method) == (2960, FitMethod.MAXIMUM_LIKELIHOOD)
    assert result.params.r == pytest.approx(0.7444265, rel=1e-5)
    assert result.params.alpha == pytest.approx(63.33641, rel=1e-5)
    assert result.params.a == 0.0
