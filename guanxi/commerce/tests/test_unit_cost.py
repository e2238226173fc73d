"""The unit cost of order lines: the optional cost column of line files (good rows import with their
cost, a bad cost rejects only its row), the ingestion API's `unit_cost`, which the order API does not give back."""

import json
from decimal import Decimal

import pytest

from guanxi.commerce.importers import run_import
from guanxi.commerce.models import Channel, ImportRowError, Order, OrderLine, Store
from guanxi.commerce.tests.test_import_engine import HEADER, write_csv

COST_HEADER = [*HEADER, "UnitCost"]


def _row(invoice, code, quantity, price, cost, customer="17850"):
    return [invoice, code, f"ITEM {code}", quantity, "2010-12-01 08:26:00", price, customer, "UK", cost]


COST_ROWS = [
    _row("536365", "85123A", "6", "2.55", "1.20"),  # cost known
    _row("536365", "71053", "6", "3.39", ""),  # cost unknown: imported without one
    _row("536366", "22633", "6", "1.85", "abc"),  # rejected: not a number
    _row("536366", "22632", "6", "1.85", "-0.50"),  # rejected: negative
    _row("536366", "22634", "2", "4.00", "0"),  # a free item: cost 0.00 is known
    _row("536367", "84879", "32", "1.69", "0.815", customer="13047"),  # rounded to the cent
]


def _lines():
    return sorted(OrderLine.objects.values_list("order__number", "sku", "unit_cost"))


def test_the_cost_column_fills_each_line_s_unit_cost_and_rejects_only_bad_rows(tmp_path, unit_a):
    path = write_csv(tmp_path / "retail.csv", COST_ROWS, header=COST_HEADER)

    run = run_import("online_retail", path, unit=unit_a)

    assert (run.counts["imported"], run.counts["rejected"], run.counts["order_lines"]) == (4, 2, 4)
    assert run.counts["reasons"] == {"bad_cost": 1, "negative_cost": 1}
    assert _lines() == [
        ("536365", "71053", None),
        ("536365", "85123A", Decimal("1.20")),
        ("536366", "22634", Decimal("0.00")),
        ("536367", "84879", Decimal("0.82")),
    ]
    issues = sorted(ImportRowError.objects.values_list("row", "column", "value", "code"))
    assert issues == [(4, "UnitCost", "abc", "bad_cost"), (5, "UnitCost", "-0.50", "negative_cost")]
    # The rejected rows are not in their order's total either.
    assert Order.objects.get(number="536366").total_amount == Decimal("8.00")


def test_a_reimport_with_corrected_costs_updates_the_lines(tmp_path, unit_a):
    run_import("online_retail", write_csv(tmp_path / "a.csv", COST_ROWS[:2], header=COST_HEADER), unit=unit_a)
    corrected = [_row("536365", "85123A", "6", "2.55", "1.30"), _row("536365", "71053", "6", "3.39", "2.00")]

    run_import("online_retail", write_csv(tmp_path / "b.csv", corrected, header=COST_HEADER), unit=unit_a)

    assert _lines() == [("536365", "71053", Decimal("2.00")), ("536365", "85123A", Decimal("1.30"))]


def test_a_file_without_the_column_imports_lines_without_a_cost(tmp_path, unit_a):
    rows = [row[:-1] for row in COST_ROWS[:2]]

    run = run_import("online_retail", write_csv(tmp_path / "retail.csv", rows), unit=unit_a)

    assert run.counts["rejected"] == 0
    assert [cost for _n, _s, cost in _lines()] == [None, None]


@pytest.fixture
def home_store(unit_a):
    return Store.objects.create(unit=unit_a, name="Home", channel=Channel.OWN_SITE, source="site:home")


def _order(external_id, lines):
    return {
        "store": "site:home",
        "external_id": external_id,
        "status": "paid",
        "placed_at": "2024-05-01T10:00:00+08:00",
        "total_amount": "199.00",
        "lines": lines,
    }


def _post(client, items, headers):
    return client.post(
        "/api/v1/orders", json.dumps({"items": items}), content_type="application/json", headers=headers
    )


def test_the_ingestion_api_takes_an_optional_unit_cost(client, home_store, unit_a_head, bearer):
    headers = bearer(unit_a_head, scope="read_write")
    towel = {"sku": "T", "name": "Towel", "quantity": 2, "unit_price": "60.00", "amount": "120.00"}
    sheet = {"sku": "S", "name": "Sheet", "quantity": 1, "unit_price": "79.00", "amount": "79.00"}
    items = [
        _order("A-1", [towel | {"unit_cost": "35.50"}, sheet]),
        _order("A-2", [towel | {"unit_cost": "-1.00"}]),
    ]

    results = _post(client, items, headers).json()["results"]

    assert [result["status"] for result in results] == ["created", "rejected"]
    assert [error["loc"] for error in results[1]["errors"]] == [["lines", 0, "unit_cost"]]
    assert _lines() == [("A-1", "S", None), ("A-1", "T", Decimal("35.50"))]
    # The same order again is unchanged; with a new cost it is an update.
    again = _post(client, [_order("A-1", [towel | {"unit_cost": "35.50"}, sheet])], headers).json()
    changed = _post(client, [_order("A-1", [towel | {"unit_cost": "30.00"}, sheet])], headers).json()
    assert (again["results"][0]["status"], changed["results"][0]["status"]) == ("unchanged", "updated")
    assert _lines() == [("A-1", "S", None), ("A-1", "T", Decimal("30.00"))]
    # Cost prices are read in the margin report only, not by everyone who may see orders.
    detail = client.get(f"/api/v1/orders/{results[0]['id']}", headers=headers).json()
    assert "unit_cost" not in detail["lines"][0]
