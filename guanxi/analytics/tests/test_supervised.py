"""The supervised churn model: chosen only where it beats P(alive) on the backtest holdout, its reasons
stored, its stored form reused by incremental runs; P(alive) kept where it loses or history is short."""

import csv
import gzip
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np

from guanxi.analytics import churn, supervised
from guanxi.analytics.explanations import explain
from guanxi.analytics.models import CustomerMetric, ModelRun
from guanxi.analytics.refresh import read_orders, read_returns, refresh_metrics
from guanxi.commerce.models import Order, Return
from guanxi.commerce.tests.factories import SHANGHAI, make_customer, make_order, make_store
from guanxi.customers.models import Customer, CustomerUnit

START = date(2024, 7, 1)
HISTORY_DAYS = 730
AS_OF = datetime(2026, 7, 1, 12, 0, tzinfo=SHANGHAI)  # START + HISTORY_DAYS
HOLDOUT_DAYS = 180
DAYS_BETWEEN_ORDERS = 60.0


def _synthetic_log(seed: int = 0, customers: int = 1_200):
    """Customers who buy every DAYS_BETWEEN_ORDERS days on average while active; those who order on a PC
    (half of them) stop after an exponential lifetime (mean 250 days), those on a phone never do. BG/NBD
    sees only the purchase days, so it cannot tell who is about to stop."""
    rng = np.random.default_rng(seed)
    on_pc = rng.random(customers) < 0.5
    first = rng.integers(0, 300, customers)
    end_of_life = np.where(on_pc, first + rng.exponential(250.0, customers), np.inf)
    orders = []
    for i in range(customers):
        day = float(first[i])
        while day <= min(end_of_life[i], HISTORY_DAYS - 1):
            orders.append((i, int(day)))
            day += rng.exponential(DAYS_BETWEEN_ORDERS)
    return on_pc, end_of_life, orders


def _load(unit, customers: int, orders, start: date = START) -> list[Customer]:
    """Customers linked to `unit` and their orders: (customer index, day after `start`, amount, device)."""
    store = make_store(unit, "Home")
    people = Customer.objects.bulk_create([Customer(name=f"c{i}") for i in range(customers)])
    CustomerUnit.objects.bulk_create([CustomerUnit(customer=person, unit=unit) for person in people])
    noon = datetime.combine(start, datetime.min.time(), SHANGHAI) + timedelta(hours=12)
    Order.objects.bulk_create(
        [
            Order(
                store=store,
                unit=unit,
                customer=people[i],
                source=store.source,
                external_id=f"O-{k}",
                number=f"O-{k}",
                status=Order.Status.COMPLETED,
                device=device,
                total_amount=Decimal(amount),
                item_count=1,
                placed_at=noon + timedelta(days=day),
            )
            for k, (i, day, amount, device) in enumerate(orders)
        ],
        batch_size=2_000,
    )
    return people


def _synthetic_shop(unit, seed: int = 0):
    on_pc, end_of_life, days = _synthetic_log(seed)
    device = {True: Order.Device.PC, False: Order.Device.MOBILE}
    people = _load(unit, len(on_pc), [(i, day, "100.00", device[bool(on_pc[i])]) for i, day in days])
    return people, on_pc, end_of_life, days


def _holdout_labels(people, orders) -> tuple[np.ndarray, np.ndarray]:
    """Backtest customers (an order by the cut-off) in id order, and whether each bought nothing after."""
    cutoff = HISTORY_DAYS - HOLDOUT_DAYS
    first = {}
    later = set()
    for i, day in orders:
        first[i] = min(first.get(i, day), day)
        if day > cutoff:
            later.add(i)
    index = sorted((i for i, day in first.items() if day <= cutoff), key=lambda i: people[i].pk)
    return np.array(index), np.array([i not in later for i in index])


def test_model_is_chosen_where_churn_follows_a_feature_bg_nbd_cannot_see(unit_a):
    people, on_pc, end_of_life, orders = _synthetic_shop(unit_a, seed=2)

    run = refresh_metrics(full=True, as_of=AS_OF)

    index, churned = _holdout_labels(people, orders)
    # Bounds from the data: the device alone, and the best possible score, which knows each customer's
    # end of life: P(no order in the holdout) = exp(−active days in the holdout / mean interval).
    device_only = churn.auc(on_pc[index].astype(float), churned)
    active = np.clip(np.minimum(end_of_life[index], HISTORY_DAYS) - (HISTORY_DAYS - HOLDOUT_DAYS), 0, None)
    oracle = churn.auc(np.exp(-active / DAYS_BETWEEN_ORDERS), churned)
    assert run.churn_method == "supervised"
    assert max(run.churn_auc, device_only) < run.supervised_churn_auc < oracle
    assert run.parameters["supervised"]["used"] is True
    assert run.parameters["supervised"]["compared_with"] == round(run.churn_auc, 4)
    importance = run.parameters["supervised"]["importance"]
    assert max(importance, key=importance.get) == "mobile_share"

    unit_run = ModelRun.objects.get(unit=unit_a)
    # One unit holding every order: its backtest and features are the organisation's.
    assert (unit_run.churn_method, unit_run.supervised_churn_auc) == ("supervised", run.supervised_churn_auc)
    rows = {row.customer_id: row for row in CustomerMetric.objects.filter(unit__isnull=True)}
    unit_rows = {row.customer_id: row for row in CustomerMetric.objects.filter(unit=unit_a)}
    assert {row.churn_method for row in rows.values()} == {"supervised"}
    assert all(unit_rows[pk].churn_risk == row.churn_risk for pk, row in rows.items())
    # The device is what the model tells customers apart by: a reason of every PC buyer's risk, never
    # one of the phone buyers', who are the typical (median) customer.
    pc_reasons = [rows[people[i].pk].churn_reasons for i in range(len(people)) if on_pc[i]]
    phone_reasons = [rows[people[i].pk].churn_reasons for i in range(len(people)) if not on_pc[i]]
    assert all({"feature": "mobile_share", "direction": "up"} in reasons for reasons in pc_reasons)
    assert not any({"feature": "mobile_share", "direction": "up"} in reasons for reasons in phone_reasons)
    first_pc_buyer = rows[people[int(np.flatnonzero(on_pc)[0])].pk]
    assert explain(first_pc_buyer)["churn"].endswith(
        " Raised by: time since the last order, share of orders placed on a phone, usual time between orders."
    )
    risk_pc = np.mean([rows[people[i].pk].churn_risk for i in range(len(people)) if on_pc[i]])
    risk_phone = np.mean([rows[people[i].pk].churn_risk for i in range(len(people)) if not on_pc[i]])
    assert risk_pc > risk_phone


def test_incremental_run_scores_changed_customers_with_the_stored_model(unit_a):
    people, _on_pc, _end_of_life, _orders = _synthetic_shop(unit_a, seed=1)
    first = refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)
    assert first.churn_method == "supervised"
    before = {row.customer_id: row for row in CustomerMetric.objects.filter(unit=unit_a)}
    # A cancelled order changes nothing the model sees, but makes the customer "changed".
    store = Order.objects.filter(customer=people[0]).first().store
    make_order(store, people[0], "X-1", "10.00", (2026, 6, 30), status=Order.Status.CANCELLED)
    make_order(store, people[1], "X-2", "100.00", (2026, 6, 30), device=Order.Device.MOBILE)

    second = refresh_metrics(unit=unit_a, as_of=AS_OF)

    assert (second.full, second.counts["changed_customers"]) == (False, 2)
    assert (second.churn_method, second.supervised_churn_auc) == ("supervised", first.supervised_churn_auc)
    after = {row.customer_id: row for row in CustomerMetric.objects.filter(unit=unit_a)}
    unchanged, reordered = after[people[0].pk], after[people[1].pk]
    assert (unchanged.run_id, unchanged.churn_method) == (second.pk, "supervised")
    # The stored trees reproduce scikit-learn's prediction to the stored precision, reasons included.
    assert (unchanged.churn_risk, unchanged.churn_reasons) == (
        before[people[0].pk].churn_risk,
        before[people[0].pk].churn_reasons,
    )
    assert (reordered.run_id, reordered.churn_method, reordered.recency_days) == (second.pk, "supervised", 1)
    assert reordered.churn_risk != before[people[1].pk].churn_risk


def test_cdnow_keeps_p_alive_where_the_model_does_not_beat_it(unit_a, shared_data):
    """CDNOW's buyers follow BG/NBD's story closely: the model's AUC is recorded, but P(alive) stays."""
    with gzip.open(shared_data("cdnow_sample.csv.gz"), "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    position = {customer: i for i, customer in enumerate(sorted({row["customer_id"] for row in rows}))}
    start = date(1997, 1, 1)
    orders = [
        (
            position[row["customer_id"]],
            (datetime.strptime(row["date"], "%Y%m%d").date() - start).days,  # noqa: DTZ007 - a calendar date
            row["dollar_value"],
            Order.Device.UNKNOWN,
        )
        for row in rows
    ]
    _load(unit_a, len(position), orders, start)

    run = refresh_metrics(unit=unit_a, full=True, as_of=datetime(1998, 6, 30, 23, 0, tzinfo=SHANGHAI))

    assert (run.backtest_cutoff, run.churn_method) == (date(1998, 1, 1), "p_alive")
    assert 0.5 < run.supervised_churn_auc < run.churn_auc
    assert run.parameters["supervised"] == {
        "used": False,
        "auc": round(run.supervised_churn_auc, 4),
        "compared_with": round(run.churn_auc, 4),
        "skipped": "",
        "horizon_days": 90,
        "evaluation_training_customers": 2357,
    }
    assert "churn_model" not in run.breakpoints
    assert set(CustomerMetric.objects.values_list("churn_method", flat=True)) == {"p_alive"}


def test_small_shop_has_too_little_history_for_a_model(unit_a):
    home = make_store(unit_a, "Home")
    for i in range(3):
        customer = make_customer(f"c{i}", [unit_a])
        make_order(home, customer, f"A-{i}", "100.00", (2026, 1, 5 + i))
        make_order(home, customer, f"B-{i}", "80.00", (2026, 5, 1 + i))

    run = refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)

    assert (run.churn_method, run.supervised_churn_auc) == ("recency", None)
    # 177 days of history: the training cut-off would be 90 days from the first order at most.
    assert run.parameters["supervised"]["skipped"] == "short_history"
    reasons = CustomerMetric.objects.filter(unit=unit_a).values_list("churn_reasons", flat=True)
    assert all(reasons)


def test_features_at_a_cut_off_see_only_what_had_happened_by_then():
    # Customer 7: phone orders on days 10 and 30 (100.00 each), a PC order on day 70 (50.00), 40.00 of
    # the first order returned on day 40. Customer 9: one order on day 50.
    log = supervised.PurchaseLog.build(
        np.array([7, 7, 7, 9]),
        np.array([10, 30, 70, 50]),
        np.array([10_000, 10_000, 5_000, 2_000]),
        np.array([True, True, False, False]),
        (np.array([7]), np.array([40]), np.array([4_000])),
    )

    early, late = supervised.features_at(log, 35), supervised.features_at(log, 100)

    assert early.customer_ids.tolist() == [7]
    # recency, orders, spend, tenure, interval, overdue, returns rate, phone share
    assert early.matrix.tolist() == [[5.0, 2.0, 200.0, 25.0, 20.0, 6 / 21, 0.0, 1.0]]
    assert late.customer_ids.tolist() == [7, 9]
    assert np.array_equal(
        late.matrix,
        np.array(
            [
                [30.0, 3.0, 250.0, 90.0, 30.0, 1.0, 0.16, 2 / 3],
                [50.0, 1.0, 20.0, 50.0, np.nan, np.nan, 0.0, 0.0],
            ]
        ),
        equal_nan=True,
    )


def test_refresh_reads_each_orders_device_and_each_returns_time(unit_a):
    store = make_store(unit_a, "Home")
    customer = make_customer("c", [unit_a])
    phone = make_order(store, customer, "P-1", "10.00", (2026, 5, 1), device=Order.Device.APP)
    make_order(store, customer, "P-2", "20.00", (2026, 5, 2), device=Order.Device.UNKNOWN)
    Order.objects.filter(pk=phone.pk).update(item_count=3)
    returned_at = datetime(2026, 5, 9, 8, 30, tzinfo=SHANGHAI)
    Return.objects.create(
        store=store,
        unit=unit_a,
        customer=customer,
        order=phone,
        source=store.source,
        external_id="R-1",
        number="R-1",
        amount=Decimal("4.00"),
        returned_at=returned_at,
    )

    orders = read_orders().sorted()
    returns = read_returns(AS_OF)

    assert (orders.items.tolist(), orders.device.tolist()) == ([3, 1], [2, 0])
    assert [column.tolist() for column in returns] == [
        [customer.pk],
        [unit_a.pk],
        [400],
        [int(returned_at.timestamp())],
    ]
