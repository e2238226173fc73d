"""Spot check on real data: five Online Retail customers imported, refreshed, and their raw R/F/M values
compared with an independent calculation straight from the CSV (csv module, no Guanxi code)."""

import csv
import gzip
from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from guanxi.analytics.models import CustomerMetric
from guanxi.analytics.refresh import refresh_metrics
from guanxi.customers.models import Identity

CUSTOMERS = ("17850", "12347", "12583", "13047", "14688")
ADJUSTMENT_CODES = {"POST", "DOT", "C2", "M", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS"}
AS_OF = datetime(2011, 12, 10, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _independent_rfm(rows: list[dict]) -> dict[str, tuple[int, int, Decimal]]:
    invoices = defaultdict(dict)  # customer -> invoice -> (first date, total)
    for row in rows:
        number = row["InvoiceNo"]
        if number.startswith("C"):
            continue
        placed = datetime.strptime(row["InvoiceDate"], "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=ZoneInfo("Europe/London")
        )
        first, total = invoices[row["CustomerID"]].get(number, (placed, Decimal("0")))
        quantity, price = int(row["Quantity"]), Decimal(row["UnitPrice"])
        if (
            quantity > 0
            and price > 0
            and row["StockCode"] not in ADJUSTMENT_CODES
            and not number.startswith("A")
        ):
            total += (quantity * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        invoices[row["CustomerID"]][number] = (min(first, placed), total)
    result = {}
    for customer, by_invoice in invoices.items():
        last = max(when for when, _total in by_invoice.values()).astimezone(ZoneInfo("Asia/Shanghai")).date()
        recency = (date(2011, 12, 10) - last).days
        result[customer] = (recency, len(by_invoice), sum(total for _when, total in by_invoice.values()))
    return result


def test_online_retail_rfm_matches_independent_calculation(unit_a, tmp_path, shared_data):
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
    refresh_metrics(unit=unit_a, full=True, as_of=AS_OF)

    expected = _independent_rfm(rows)
    assert len(expected) == 5
    for customer_id, (recency, frequency, monetary) in expected.items():
        customer = Identity.objects.get(kind="external_id", value=customer_id).customer
        row = CustomerMetric.objects.get(customer=customer, unit=unit_a)
        assert (row.recency_days, row.orders, row.total_spend) == (recency, frequency, monetary), customer_id
