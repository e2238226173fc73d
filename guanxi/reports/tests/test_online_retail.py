"""Sales by product on real data: five Online Retail customers imported, and the report's figures per
product compared with an independent calculation straight from the CSV (csv module, no Guanxi code)."""

import csv
import gzip
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from guanxi.accounts.models import Organisation

CUSTOMERS = ("17850", "12347", "12583", "13047", "14688")
ADJUSTMENT_CODES = {"POST", "DOT", "C2", "M", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS"}


def _independent(rows: list[dict]) -> dict[str, tuple[Decimal, int, int]]:
    """Per product description: revenue, units and invoices of the sale lines."""
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    units: dict[str, int] = defaultdict(int)
    invoices: dict[str, set] = defaultdict(set)
    for row in rows:
        number, code = row["InvoiceNo"], row["StockCode"].strip()
        quantity, price = int(row["Quantity"]), Decimal(row["UnitPrice"])
        if number.startswith(("C", "A")) or code.upper() in ADJUSTMENT_CODES or quantity <= 0 or price <= 0:
            continue
        name = row["Description"].strip()
        revenue[name] += (quantity * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        units[name] += quantity
        invoices[name].add(number)
    return {name: (revenue[name], units[name], len(invoices[name])) for name in revenue}


def test_sales_by_product_matches_an_independent_calculation(
    client, unit_a, unit_a_head, tmp_path, shared_data
):
    from guanxi.commerce.importers.engine import run_import

    source = shared_data("online_retail.csv.gz")
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames
        rows = [row for row in reader if row["CustomerID"] in CUSTOMERS]
    subset = tmp_path / "online_retail_subset.csv"
    with subset.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    run_import("online_retail", subset, unit=unit_a)
    # The shop trades in pounds: sales figures count the organisation's currency.
    Organisation.objects.update(default_currency="GBP")
    expected = _independent(rows)
    top = sorted(expected.items(), key=lambda item: (-item[1][0], item[0]))[:10]
    client.force_login(unit_a_head)

    response = client.get("/reports/products/?group=product&start=2010-01&end=2011-12")

    result = response.context["result"]
    shown = [(row.label, row.values[0], row.values[2], row.values[3]) for row in result.rows[:10]]
    assert shown == [(name, revenue, units, orders) for name, (revenue, units, orders) in top]
    assert result.totals[0] == sum(revenue for revenue, _units, _orders in expected.values())
    assert len(result.rows) == len(expected)
