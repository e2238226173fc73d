"""Shopify and WooCommerce JSON presets: the platforms' published sample payloads (real data, from
../shared/data/samples) and payloads of our own for the rest."""

import json
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from guanxi.commerce.importers import run_import
from guanxi.commerce.models import ImportRun, Order, OrderLine, Return, Store
from guanxi.commerce.tests.payloads import woocommerce_order
from guanxi.customers.models import Customer, Identity


@pytest.fixture
def sample(tmp_path, shared_data):
    def copy(_tmp_path: Path, name: str) -> Path:
        # Copied, so the run records a path we control; never into the repository.
        target = tmp_path / name
        shutil.copyfile(shared_data(f"samples/{name}"), target)
        return target

    return copy


def test_shopify_single_order_fixture_imports(tmp_path, unit_a, sample):
    run = run_import(
        "shopify_orders",
        sample(tmp_path, "shopify_order_fixture.json"),
        unit=unit_a,
        store_source="shopify:apple",
    )

    assert run.state == ImportRun.State.SUCCEEDED
    assert run.counts["rows"] == 1
    assert run.counts["orders_created"] == 1
    order = Order.objects.get()
    assert (order.number, order.external_id, order.currency) == ("#1001", "450789469", "USD")
    assert order.total_amount == Decimal("409.94")
    assert order.status == Order.Status.CREATED  # financial_status "authorized": not paid yet
    assert order.paid_at is None
    assert order.placed_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.source_updated_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.item_count == 3
    assert list(OrderLine.objects.order_by("line_no").values_list("line_no", "sku", "amount")) == [
        (466157049, "IPOD2008GREEN", Decimal("199.00")),
        (518995019, "IPOD2008RED", Decimal("199.00")),
        (703073504, "IPOD2008BLACK", Decimal("199.00")),
    ]
    assert order.store.channel == "shopify"
    assert order.store.unit == unit_a
    identities = set(order.customer.identities.values_list("kind", "namespace", "value"))
    assert identities == {
        ("shopify_id", "shopify:apple", "207119551"),
        ("email", "", "bob.norman@hostmail.com"),
    }
    assert order.customer.name == "Bob Norman"


def test_shopify_orders_and_customer_fixtures_share_one_customer(tmp_path, unit_a, sample):
    orders = run_import("shopify_orders", sample(tmp_path, "shopify_orders_fixture.json"), unit=unit_a)
    customers = run_import(
        "shopify_customers", sample(tmp_path, "shopify_customer_fixture.json"), unit=unit_a
    )

    assert orders.counts["orders_created"] == 1
    assert customers.counts["customers_created"] == 0
    assert customers.counts["customers_existing"] == 1
    order = Order.objects.get()
    assert order.total_amount == Decimal("598.94")
    assert order.status == Order.Status.PAID  # partially_refunded, not fulfilled
    assert order.paid_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert Customer.objects.count() == 1
    assert set(Identity.objects.values_list("kind", "value")) == {
        ("shopify_id", "207119551"),
        ("email", "bob.norman@hostmail.com"),
        ("phone", "+16136120707"),
    }


def test_shopify_reimport_adds_nothing(tmp_path, unit_a, sample):
    path = sample(tmp_path, "shopify_order_fixture.json")
    run_import("shopify_orders", path, unit=unit_a)
    again = run_import("shopify_orders", path, unit=unit_a)

    assert (again.counts["orders_created"], again.counts["orders_unchanged"]) == (0, 1)
    assert (Order.objects.count(), OrderLine.objects.count(), Customer.objects.count()) == (1, 3, 1)


def test_woocommerce_orders_list_imports_with_refunds_and_guests(tmp_path, unit_a, sample):
    run = run_import(
        "woocommerce_orders",
        sample(tmp_path, "woocommerce_orders_list_v3_example.json"),
        unit=unit_a,
        store_source="woocommerce:example",
    )

    assert run.state == ImportRun.State.SUCCEEDED
    assert (run.counts["rows"], run.counts["orders_created"], run.counts["customers_created"]) == (2, 2, 1)
    first, second = Order.objects.order_by("external_id")
    assert (second.number, second.status, second.total_amount) == ("727", "paid", Decimal("29.35"))
    assert second.paid_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    # John Doe's only contact is an example.com address: a guest order, no identity.
    assert second.customer is None
    assert (first.number, first.status, first.total_amount) == ("723", "completed", Decimal("39.00"))
    assert first.refunded_amount == Decimal("19.00")
    assert first.paid_at is None
    assert first.device == Order.Device.PC
    assert list(first.customer.identities.values_list("kind", "namespace", "value")) == [
        ("woocommerce_id", "woocommerce:example", "26")
    ]
    assert sorted(Return.objects.values_list("external_id", "amount", "order_id")) == [
        ("refund:724", Decimal("9.00"), first.pk),
        ("refund:726", Decimal("10.00"), first.pk),
    ]
    assert list(second.lines.order_by("line_no").values_list("name", "quantity", "amount")) == [
        ("Woo Single #1", 2, Decimal("6.00")),
        ("Ship Your Idea – Color: Black, Size: M Test", 1, Decimal("12.00")),
    ]


def test_woocommerce_single_order_then_list_updates_in_place(tmp_path, unit_a, sample):
    run_import("woocommerce_orders", sample(tmp_path, "woocommerce_order_v3_example.json"), unit=unit_a)
    run = run_import(
        "woocommerce_orders", sample(tmp_path, "woocommerce_orders_list_v3_example.json"), unit=unit_a
    )

    assert (run.counts["orders_created"], run.counts["orders_unchanged"]) == (1, 1)
    assert Order.objects.count() == 2
    assert Store.objects.get().source == "woocommerce"


def test_dry_run_writes_nothing(tmp_path, unit_a):
    path = tmp_path / "orders.json"
    path.write_text(json.dumps([woocommerce_order(), woocommerce_order(id=951, number="951")]))
    run = run_import("woocommerce_orders", path, unit=unit_a, dry_run=True)

    assert (run.counts["orders_created"], run.counts["customers_created"]) == (2, 1)
    assert (Order.objects.count(), Customer.objects.count(), Store.objects.count()) == (0, 0, 0)


def test_bad_json_records_are_rejected_with_reasons(tmp_path, unit_a):
    path = tmp_path / "orders.json"
    path.write_text(
        json.dumps(
            [
                {"id": 1},
                "nonsense",
                {"id": 2, "date_created_gmt": "2024-01-01T00:00:00", "status": "completed", "total": "abc"},
            ]
        )
    )
    run = run_import("woocommerce_orders", path, unit=unit_a)

    assert run.state == ImportRun.State.SUCCEEDED
    assert run.counts["rejected"] == 3
    assert sorted(run.row_errors.values_list("row", "code")) == [
        (2, "missing_date"),
        (3, "bad_json"),
        (4, "bad_amount"),
    ]
    assert Order.objects.count() == 0
