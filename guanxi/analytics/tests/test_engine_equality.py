"""The refresh on ClickHouse (chDB, the engine in-process) gives the metrics the embedded path gives.

Same data, same `as_of`: every metric row and every run's models, breakpoints and counts are compared,
exactly for counts, classes and texts and to 1e-9 relative for floats. The data is the demo shop (two
units, refunds, returns, zero and negative amounts) plus orders placed after `as_of`, and for the
incremental case new orders, a return and a new customer after the full run.
"""

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from guanxi.analytics import refresh
from guanxi.analytics.engine import CHANGE_READER
from guanxi.analytics.engine.connection import close_engines, get_engine
from guanxi.analytics.engine.export import export, last_export
from guanxi.analytics.models import CustomerMetric, ModelRun
from guanxi.commerce.models import Order, Return
from guanxi.commerce.tests.factories import SHANGHAI, make_customer, make_order, make_store
from guanxi.customers import changes
from guanxi.customers.models import Customer

pytest.importorskip(
    "chdb", reason="chDB (PyPI chdb, the in-process ClickHouse engine) cannot be imported on this machine"
)

AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=SHANGHAI)
REFERENCE_ANCHOR = datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI)
RELATIVE = 1e-9
METRIC_FIELDS = [
    f.name for f in CustomerMetric._meta.concrete_fields if f.name not in ("id", "run", "computed_at")
]


@pytest.fixture
def engine_settings(settings, tmp_path):
    """Switch between the paths inside one test; the chDB tables live in the test's folder."""

    def use(engine: str) -> None:
        settings.GUANXI_ANALYTICS_ENGINE = engine
        settings.GUANXI_CLICKHOUSE_URL = f"chdb:{tmp_path / 'clickhouse'}"

    yield use
    close_engines()


@pytest.fixture
def shop(db):
    from guanxi.demo import load_demo

    load_demo(customers=300, anchor=REFERENCE_ANCHOR)
    store = make_store(Order.objects.first().unit, "Edge cases")
    odd = make_customer("edge", [store.unit])
    make_order(store, odd, "E-1", "0.00", (2026, 2, 1))
    make_order(store, odd, "E-2", "15.10", (2026, 2, 1))
    make_order(store, odd, "E-3", "20.20", (2026, 2, 3), status=Order.Status.CANCELLED)
    make_order(store, odd, "E-4", "99.99", (2026, 4, 1))  # after as_of: skipped, counted
    return store, odd


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= RELATIVE * max(abs(a), abs(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _metrics() -> dict[tuple[int, int | None], dict[str, Any]]:
    return {
        (row["customer"], row["unit"]): row
        for row in CustomerMetric.objects.values(*METRIC_FIELDS).order_by("unit", "customer")
    }


RUN_FIELDS = [
    "unit_id",
    "full",
    "counts",
    "breakpoints",
    "parameters",
    "method",
    "fallback_reason",
    "log_likelihood",
    "backtest_cutoff",
    "backtest_mae",
    "backtest_series",
    "churn_method",
    "churn_auc",
    "supervised_churn_auc",
    "churn_calibration",
]


def _runs(since_pk: int) -> list[dict[str, Any]]:
    runs = list(ModelRun.objects.filter(pk__gt=since_pk).order_by("unit_id", "pk").values(*RUN_FIELDS))
    for run in runs:
        run["parameters"] = {k: v for k, v in (run["parameters"] or {}).items() if k != "fitted_at"}
    return runs


def _assert_same(embedded: dict, engine: dict) -> None:
    assert embedded.keys() == engine.keys()
    different = [
        (key, name, embedded[key][name], engine[key][name])
        for key in embedded
        for name in METRIC_FIELDS
        if not _close(embedded[key][name], engine[key][name])
    ]
    assert different == []


def _last_pk() -> int:
    return ModelRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _numpy_aggregation_forbidden(*args, **kwargs):
    raise AssertionError("the engine path aggregated orders in numpy")


def test_full_refresh_on_clickhouse_equals_embedded(shop, engine_settings, monkeypatch):
    engine_settings("embedded")
    before = _last_pk()
    refresh.refresh_metrics(full=True, as_of=AS_OF)
    embedded, embedded_runs = _metrics(), _runs(before)
    assert len(embedded) > 600 and any(row["unit"] is None for row in embedded.values())

    engine_settings("clickhouse")
    monkeypatch.setattr(refresh.runs, "aggregate_orders", _numpy_aggregation_forbidden)
    before = _last_pk()
    refresh.refresh_metrics(full=True, as_of=AS_OF)
    on_engine, engine_runs = _metrics(), _runs(before)
    assert get_engine().scalar("SELECT count() FROM guanxi_customer_metrics") == len(on_engine)

    _assert_same(embedded, on_engine)
    assert len(engine_runs) == len(embedded_runs) == 3
    for a, b in zip(embedded_runs, engine_runs, strict=True):
        assert _close(a, b), (a["unit_id"], {k: (a[k], b[k]) for k in a if not _close(a[k], b[k])})
    store, odd = shop
    row = on_engine[(odd.pk, store.unit_id)]
    assert (row["orders"], row["total_spend"]) == (2, Decimal("15.10"))
    assert engine_runs[0]["counts"]["future_orders_skipped"] >= 1


def test_incremental_refresh_on_clickhouse_equals_embedded(shop, engine_settings, monkeypatch):
    store, odd = shop
    engine_settings("clickhouse")
    refresh.refresh_metrics(full=True, as_of=AS_OF)
    newcomer = make_customer("newcomer", [store.unit])
    make_order(store, newcomer, "N-1", "300.00", (2026, 2, 20))
    make_order(store, odd, "N-2", "42.00", (2026, 2, 25))
    regular = Customer.objects.filter(orders__unit=store.unit).exclude(pk__in=[odd.pk, newcomer.pk]).first()
    make_order(store, regular, "N-3", "12.34", (2026, 2, 26))
    Return.objects.create(
        store=store,
        unit=store.unit,
        customer=odd,
        source=store.source,
        external_id="R-1",
        number="R-1",
        amount=Decimal("5.05"),
        returned_at=datetime(2026, 2, 27, 9, 0, tzinfo=SHANGHAI),
    )

    with transaction.atomic(), monkeypatch.context() as patch:
        patch.setattr(refresh.runs, "aggregate_orders", _numpy_aggregation_forbidden)
        savepoint = transaction.savepoint()
        before = _last_pk()
        run = refresh.refresh_metrics(as_of=AS_OF)
        assert run.full is False and run.counts["changed_customers"] == 3
        on_engine, engine_runs = _metrics(), _runs(before)
        transaction.savepoint_rollback(savepoint)

    engine_settings("embedded")
    before = _last_pk()
    refresh.refresh_metrics(as_of=AS_OF)
    embedded, embedded_runs = _metrics(), _runs(before)

    _assert_same(embedded, on_engine)
    for a, b in zip(embedded_runs, engine_runs, strict=True):
        assert _close(a, b)
    assert on_engine[(odd.pk, store.unit_id)]["returns_amount"] == Decimal("5.05")
    assert on_engine[(newcomer.pk, None)]["orders"] == 1


def test_export_is_incremental_and_idempotent(shop, engine_settings):
    engine_settings("clickhouse")
    engine = get_engine()
    first = export(engine)
    assert first.full is True
    counts = {
        table: engine.scalar(f"SELECT count() FROM {table}")  # noqa: S608 (our tables)
        for table in ("guanxi_orders", "guanxi_order_lines", "guanxi_customers", "guanxi_returns")
    }
    assert counts["guanxi_orders"] == Order.objects.filter(customer__isnull=False).count()
    assert counts["guanxi_customers"] == Customer._base_manager.count()

    store, odd = shop
    make_order(store, odd, "X-1", "10.00", (2026, 2, 28))
    second = export(engine)
    assert (second.full, second.customers) == (False, 1)
    again = export(engine)  # nothing new: nothing rewritten, nothing doubled
    assert (again.full, again.customers) == (False, 0)
    assert engine.scalar("SELECT count() FROM guanxi_orders") == counts["guanxi_orders"] + 1
    assert (
        engine.scalar("SELECT count() FROM guanxi_orders WHERE customer_id = {c:Int64}", {"c": odd.pk})
        == Order.objects.filter(customer=odd).count()
    )
    marks = last_export(engine)
    assert marks is not None and marks[1]["order"] == Order.objects.order_by("-pk").first().pk


def test_export_follows_in_place_changes_through_the_change_feed(shop, engine_settings, monkeypatch):
    engine_settings("clickhouse")
    monkeypatch.setattr(changes, "_readers", [*changes.change_readers(), CHANGE_READER])
    engine = get_engine()
    export(engine)
    _store, odd = shop
    order = Order.objects.get(customer=odd, number="E-2")
    # A status change keeps the order's id: only the feed tells the export about it.
    Order.objects.filter(pk=order.pk).update(status=Order.Status.REFUNDED)
    changes.note_changed([odd.pk])
    result = export(engine)
    assert (result.full, result.customers) == (False, 1)
    assert (
        engine.scalar("SELECT status FROM guanxi_orders WHERE id = {o:Int64}", {"o": order.pk}) == "refunded"
    )
    assert changes.pending(CHANGE_READER) == 0
    assert export(engine).customers == 0


ONLINE_RETAIL_AS_OF = datetime(2011, 12, 10, 12, 0, tzinfo=SHANGHAI)
ONLINE_RETAIL_ROWS = 40_000


def test_online_retail_refresh_on_clickhouse_equals_embedded(unit_a, tmp_path, shared_data, engine_settings):
    """The real public log (its first 40,000 lines: ~1,500 invoices of some hundreds of customers)."""
    import csv
    import gzip
    from itertools import islice

    from guanxi.commerce.importers.engine import run_import

    with gzip.open(shared_data("online_retail.csv.gz"), "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(islice(reader, ONLINE_RETAIL_ROWS))
    subset = tmp_path / "online_retail_head.csv"
    with subset.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    run_import("online_retail", subset, unit=unit_a)

    engine_settings("embedded")
    before = _last_pk()
    refresh.refresh_metrics(full=True, as_of=ONLINE_RETAIL_AS_OF)
    embedded, embedded_runs = _metrics(), _runs(before)
    engine_settings("clickhouse")
    before = _last_pk()
    refresh.refresh_metrics(full=True, as_of=ONLINE_RETAIL_AS_OF)
    on_engine, engine_runs = _metrics(), _runs(before)

    assert sum(1 for row in embedded.values() if row["orders"] > 1) > 100
    _assert_same(embedded, on_engine)
    for a, b in zip(embedded_runs, engine_runs, strict=True):
        assert _close(a, b), {k: (a[k], b[k]) for k in a if not _close(a[k], b[k])}
