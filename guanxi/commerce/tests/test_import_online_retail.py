"""Acceptance: the whole UCI Online Retail log (541,909 lines) imports to the documented figures."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Count, Sum

from guanxi.commerce.importers import run_import
from guanxi.commerce.models import ImportRun, Order, OrderLine, Return
from guanxi.customers.models import Customer, CustomerUnit, Identity


@pytest.fixture
def retail_file(shared_data) -> Path:
    return shared_data("online_retail.csv.gz")


def table_sizes() -> tuple[int, ...]:
    return (
        Customer.objects.count(),
        Identity.objects.count(),
        CustomerUnit.objects.count(),
        Order.objects.count(),
        OrderLine.objects.count(),
        Return.objects.count(),
    )


@pytest.mark.django_db(transaction=False)
def test_the_full_log_imports_to_the_documented_figures_and_reimports_nothing(retail_file, unit_a):
    run = run_import("online_retail", retail_file, unit=unit_a)

    assert run.state == ImportRun.State.SUCCEEDED
    assert Customer.objects.count() == 4372
    assert Order.objects.count() == 22064
    assert Order.objects.filter(customer__isnull=False).count() == 18536
    assert Order.objects.filter(customer__isnull=True).count() == 3528
    assert Return.objects.count() == 3836
    assert Return.objects.filter(customer__isnull=True).count() == 182

    counts = run.counts
    assert counts["rows"] == 541909
    assert counts["imported"] + counts["skipped"] + counts["rejected"] == 541909
    assert sum(counts["reasons"].values()) == counts["skipped"] + counts["rejected"]
    assert counts["rejected"] == 0
    assert counts["imported"] == counts["order_lines"] + 9288  # every cancellation row is part of a return
    assert counts["order_lines"] == OrderLine.objects.count() == 527789
    assert counts["skipped"] == 4832
    assert counts["reasons"] == {
        "adjustment_amazon_fee": 2,
        "adjustment_bank_charges": 12,
        "adjustment_carriage": 142,
        "adjustment_dotcom_postage": 709,
        "adjustment_manual": 328,
        "adjustment_packing_pads": 4,
        "adjustment_postage": 1130,
        "adjustment_samples": 2,
        "bad_debt_invoice": 3,
        "non_positive_price": 1164,
        "non_positive_quantity": 1336,
    }
    assert ImportRun.objects.get().row_errors.count() == 4832
    assert (counts["customers_created"], counts["orders_created"], counts["returns_created"]) == (
        4372,
        22064,
        3836,
    )
    assert Order.objects.aggregate(total=Sum("total_amount"))["total"] == Decimal("10272118.87")
    biggest = Order.objects.annotate(lines_count=Count("lines")).order_by("-total_amount").first()
    assert (biggest.number, biggest.total_amount, biggest.lines_count) == ("581483", Decimal("168469.60"), 1)

    before = table_sizes()
    again = run_import("online_retail", retail_file, unit=unit_a)

    assert table_sizes() == before
    assert (
        again.counts["orders_created"],
        again.counts["returns_created"],
        again.counts["customers_created"],
    ) == (0, 0, 0)
    assert (again.counts["orders_existing"], again.counts["returns_existing"]) == (22064, 3836)
