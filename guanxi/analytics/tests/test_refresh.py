"""Refresh behaviour: incremental runs touch only changed customers, failed runs keep old metrics."""

from datetime import datetime
from decimal import Decimal

import pytest
from django.db import connection

from guanxi.analytics import refresh
from guanxi.analytics.jobs import REFRESH_KIND
from guanxi.analytics.models import CustomerMetric, ModelRun
from guanxi.commerce.models import Order
from guanxi.commerce.tests.factories import SHANGHAI, make_customer, make_order, make_store
from guanxi.core.background import create_job, run_job
from guanxi.core.models import Job

AS_OF = datetime(2026, 7, 1, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture
def shop(unit_a):
    store = make_store(unit_a, "Home")
    customers = [make_customer(f"c{i}", [unit_a]) for i in range(3)]
    for i, customer in enumerate(customers):
        make_order(store, customer, f"O-{i}", f"{100 * (i + 1)}.00", (2026, 5, 1 + i))
    return store, customers


def test_incremental_run_recomputes_only_touched_customers(shop, unit_a):
    store, (c0, c1, c2) = shop
    first = refresh.refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)
    make_order(store, c1, "O-new", "40.00", (2026, 6, 30))
    second = refresh.refresh_metrics(unit=unit_a, as_of=AS_OF)
    assert second.full is False
    assert second.counts["changed_customers"] == 1
    assert second.parameters == first.parameters
    rows = {row.customer_id: row for row in CustomerMetric.objects.filter(unit=unit_a)}
    assert {pk: row.run_id for pk, row in rows.items()} == {
        c0.pk: first.pk,
        c1.pk: second.pk,
        c2.pk: first.pk,
    }
    assert (rows[c1.pk].orders, rows[c1.pk].total_spend, rows[c1.pk].recency_days) == (
        2,
        Decimal("240.00"),
        1,
    )


def test_full_flag_refits(shop, unit_a):
    refresh.refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)
    again = refresh.refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)
    assert again.full is True
    assert set(CustomerMetric.objects.values_list("run_id", flat=True)) == {again.pk}


def test_failed_run_keeps_previous_metrics(shop, unit_a, monkeypatch):
    store, (c0, _c1, _c2) = shop
    first = refresh.refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)
    make_order(store, c0, "O-late", "999.00", (2026, 6, 30))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(refresh.runs, "write_rows", broken)
    with pytest.raises(RuntimeError):
        refresh.refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)
    failed = ModelRun.objects.latest("pk")
    assert (failed.state, failed.message) == (ModelRun.State.FAILED, "RuntimeError: disk full")
    row = CustomerMetric.objects.get(customer=c0, unit=unit_a)
    assert (row.run_id, row.orders, row.total_spend) == (first.pk, 1, Decimal("100.00"))
    assert CustomerMetric.objects.count() == 3


def test_refresh_job_reports_progress(shop, unit_a):
    job = create_job(REFRESH_KIND, params={"unit": unit_a.pk, "full": True}, unit=unit_a)
    run_job(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert job.progress_done == job.progress_total == 4
    run = ModelRun.objects.get(job=job)
    assert (run.unit, run.state, job.counts["customers"]) == (unit_a, ModelRun.State.SUCCEEDED, 3)


def test_full_refresh_rewrites_figures_and_drops_customers_gone_from_the_scope(shop, unit_a):
    store, (c0, c1, _c2) = shop
    prospect = make_customer("prospect", [unit_a])
    first = refresh.refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)
    assert CustomerMetric.objects.get(customer=prospect, unit=unit_a).customer_class == "potential"
    make_order(store, c0, "O-more", "55.50", (2026, 6, 30))
    prospect.unit_links.all().delete()

    second = refresh.refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)

    rows = {row.customer_id: row for row in CustomerMetric.objects.filter(unit=unit_a)}
    assert set(rows) == {c0.pk, c1.pk, _c2.pk}
    assert {row.run_id for row in rows.values()} == {second.pk} != {first.pk}
    assert (rows[c0.pk].orders, rows[c0.pk].total_spend, rows[c0.pk].recency_days) == (
        2,
        Decimal("155.50"),
        1,
    )
    assert (rows[c1.pk].orders, rows[c1.pk].total_spend) == (1, Decimal("200.00"))


def test_customer_deleted_takes_their_metrics_along(shop, unit_a):
    _store, (c0, _c1, _c2) = shop
    refresh.refresh_metrics(full=True, as_of=AS_OF)
    assert CustomerMetric.objects.filter(customer=c0).count() == 2

    c0.delete()

    assert not CustomerMetric.objects.filter(customer_id=c0.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_orders_read_in_chunks_come_back_once_each_without_cancelled_ones(unit_a, monkeypatch):
    # PostgreSQL reads id ranges on parallel connections; SQLite reads them in one query, same answer.
    store = make_store(unit_a, "Home")
    customers = [make_customer(f"c{i}", [unit_a]) for i in range(3)]
    for i in range(7):
        make_order(store, customers[i % 3], f"O-{i}", f"{10 + i}.25", (2026, 5, 1 + i))
    make_order(store, customers[0], "O-x", "99.00", (2026, 5, 9), status=Order.Status.CANCELLED)
    monkeypatch.setattr(refresh.read, "READ_CHUNK", 2)

    orders = refresh.read_orders()

    by_order = sorted(zip(orders.customer.tolist(), orders.cents.tolist(), strict=True), key=lambda r: r[1])
    assert by_order == [(customers[i % 3].pk, 1025 + 100 * i) for i in range(7)]
    assert set(orders.unit.tolist()) == {unit_a.pk}


def test_incremental_run_sees_orders_imported_with_an_old_creation_time(shop, unit_a):
    store, (c0, _c1, _c2) = shop
    first = refresh.refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)
    late = make_order(store, c0, "O-backdated", "60.00", (2026, 6, 29))
    Order.objects.filter(pk=late.pk).update(created_at=datetime(2020, 1, 1, tzinfo=SHANGHAI))

    second = refresh.refresh_metrics(unit=unit_a, as_of=AS_OF)

    assert (second.full, second.counts["changed_customers"]) == (False, 1)
    assert second.watermarks["order"] == late.pk > first.watermarks["order"]
    row = CustomerMetric.objects.get(customer=c0, unit=unit_a)
    assert (row.run_id, row.orders, row.total_spend) == (second.pk, 2, Decimal("160.00"))


def test_organisation_wide_full_refresh_keeps_the_table_intact(shop, unit_a):
    # On PostgreSQL a full refresh of every scope writes a new table and swaps it in (rebuild.py):
    # its indexes and constraints keep their names, and later incremental runs upsert into it.
    store, (c0, c1, c2) = shop
    table = CustomerMetric._meta.db_table

    def keys() -> set[str]:
        with connection.cursor() as cursor:
            return set(connection.introspection.get_constraints(cursor, table))

    before = keys()
    refresh.refresh_metrics(full=True, as_of=AS_OF)
    make_order(store, c2, "O-again", "70.00", (2026, 6, 29))
    second = refresh.refresh_metrics(full=True, as_of=AS_OF)
    assert keys() == before
    rows = CustomerMetric.objects.all()
    assert {(row.customer_id, row.unit_id) for row in rows} == {
        (customer.pk, scope) for customer in (c0, c1, c2) for scope in (None, unit_a.pk)
    }
    # The second refresh's runs (one per scope) wrote every row.
    assert {row.run_id for row in rows} == set(
        ModelRun.objects.filter(pk__gte=second.pk).values_list("pk", flat=True)
    )
    make_order(store, c1, "O-later", "30.00", (2026, 6, 30))
    third = refresh.refresh_metrics(as_of=AS_OF)
    assert third.full is False
    row = CustomerMetric.objects.get(customer=c1, unit=None)
    assert (row.run_id, row.orders, row.total_spend) == (third.pk, 2, Decimal("230.00"))
    assert CustomerMetric.objects.get(customer=c2, unit=unit_a).total_spend == Decimal("370.00")
