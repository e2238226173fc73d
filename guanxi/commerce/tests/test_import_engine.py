"""The import engine through its public entry points, on small files in the Online Retail layout."""

import csv
import io
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from openpyxl import Workbook

from guanxi.commerce.importers import online_retail as online_retail_preset
from guanxi.commerce.importers import resume_import, run_import
from guanxi.commerce.importers.report import write_error_report
from guanxi.commerce.models import ImportRowError, ImportRun, Order, OrderLine, Return, Store
from guanxi.core.background import create_job, run_job
from guanxi.core.models import AuditEntry, Job
from guanxi.customers.models import Customer, CustomerUnit, Identity

LONDON = ZoneInfo("Europe/London")
HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
FORMULA = "=cmd|' /C calc'!A0"

# Invoice 536365 is split by the chunk size of 3 and comes back after a return (row 11).
RESUME_ROWS = [
    [
        "536365",
        "85123A",
        "WHITE HANGING HEART T-LIGHT HOLDER",
        "6",
        "2010-12-01 08:26:00",
        "2.55",
        "17850",
        "United Kingdom",
    ],
    ["536365", "71053", "WHITE METAL LANTERN", "6", "2010-12-01 08:26:00", "3.39", "17850", "United Kingdom"],
    ["536365", "POST", "POSTAGE", "1", "2010-12-01 08:26:00", "18.00", "17850", "United Kingdom"],
    [
        "536365",
        "84406B",
        "CREAM CUPID HEARTS COAT HANGER",
        "8",
        "2010-12-01 08:26:00",
        "2.75",
        "17850",
        "United Kingdom",
    ],
    [
        "536365",
        "84029G",
        "KNITTED UNION FLAG HOT WATER BOTTLE",
        "6",
        "2010-12-01 08:26:00",
        "3.39",
        "17850",
        "United Kingdom",
    ],
    [
        "536366",
        "22633",
        "HAND WARMER UNION JACK",
        "6",
        "2010-12-01 08:28:00",
        "1.85",
        "17850",
        "United Kingdom",
    ],
    [
        "536366",
        "22632",
        "HAND WARMER RED POLKA DOT",
        "6",
        "2010-12-01 08:28:00",
        "1.85",
        "17850",
        "United Kingdom",
    ],
    [
        "536367",
        "84879",
        "ASSORTED COLOUR BIRD ORNAMENT",
        "32",
        "2010-12-01 08:34:00",
        "1.69",
        "13047",
        "United Kingdom",
    ],
    ["C536379", "D", "Discount", "-1", "2010-12-01 09:41:00", "27.50", "14527", "United Kingdom"],
    [
        "536365",
        "22752",
        "SET 7 BABUSHKA NESTING BOXES",
        "1",
        "2010-12-01 08:25:00",
        "10.00",
        "17850",
        "United Kingdom",
    ],
    ["536368", "22960", "JAM MAKING SET WITH JARS", "6", "2010-12-01 08:34:00", "4.25", "", "United Kingdom"],
    [
        "536369",
        "21756",
        "BATH BUILDING BLOCK WORD",
        "-3",
        "2010-12-01 08:35:00",
        "5.95",
        "",
        "United Kingdom",
    ],
]
RESUME_ORDERS = [
    # number, total, items, lines, customer id, placed at (UK time)
    ("536365", Decimal("87.98"), 27, 5, "17850", datetime(2010, 12, 1, 8, 25, tzinfo=LONDON)),
    ("536366", Decimal("22.20"), 12, 2, "17850", datetime(2010, 12, 1, 8, 28, tzinfo=LONDON)),
    ("536367", Decimal("54.08"), 32, 1, "13047", datetime(2010, 12, 1, 8, 34, tzinfo=LONDON)),
    ("536368", Decimal("25.50"), 6, 1, None, datetime(2010, 12, 1, 8, 34, tzinfo=LONDON)),
    ("536369", Decimal("0.00"), 0, 0, None, datetime(2010, 12, 1, 8, 35, tzinfo=LONDON)),
]
RESUME_COUNTS = {
    "rows": 12,
    "imported": 10,
    "skipped": 2,
    "rejected": 0,
    "warnings": 0,
    "reasons": {"adjustment_postage": 1, "non_positive_quantity": 1},
    "customers_created": 3,
    "orders_created": 5,
    "orders_existing": 0,
    "returns_created": 1,
    "returns_existing": 0,
    "order_lines": 9,
    "issues_stored": 2,
}


def write_csv(path, rows, header=HEADER, encoding="utf-8"):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def orders_snapshot():
    return [
        (
            order.number,
            order.total_amount,
            order.item_count,
            order.lines.count(),
            order.customer.identities.get().value if order.customer else None,
            order.placed_at,
        )
        for order in Order.objects.order_by("number")
    ]


def test_a_file_imports_orders_lines_returns_and_customers(tmp_path, unit_a, admin_user):
    path = write_csv(tmp_path / "retail.csv", RESUME_ROWS)

    run = run_import("online_retail", path, unit=unit_a, started_by=admin_user)

    assert run.state == ImportRun.State.SUCCEEDED
    assert run.counts == RESUME_COUNTS
    assert orders_snapshot() == RESUME_ORDERS
    store = Store.objects.get()
    assert (store.name, store.channel, store.source, store.currency, store.unit) == (
        "Online Retail (UK)",
        "own_site",
        "online_retail",
        "GBP",
        unit_a,
    )
    assert set(Order.objects.values_list("currency", "status", "store", "unit")) == {
        ("GBP", "completed", store.pk, unit_a.pk)
    }
    returned = Return.objects.get()
    assert (returned.number, returned.amount, returned.quantity, returned.reason, returned.currency) == (
        "C536379",
        Decimal("27.50"),
        0,
        "discount",
        "GBP",
    )
    assert returned.customer.identities.get().value == "14527"
    assert set(Identity.objects.values_list("kind", "namespace", "value")) == {
        ("external_id", "online_retail", "17850"),
        ("external_id", "online_retail", "13047"),
        ("external_id", "online_retail", "14527"),
    }
    assert CustomerUnit.objects.filter(unit=unit_a).count() == 3
    assert AuditEntry.objects.filter(action="import", object_id=str(run.pk), actor=admin_user).count() == 1


def planner_row_estimate(table: str) -> int | None:
    """The row count the planner's statistics give a table, or None where it has none."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
            if cursor.fetchone() is None:
                return None
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s AND idx IS NOT NULL", [table])
            row = cursor.fetchone()
            return int(row[0].split()[0]) if row else None
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        estimate = cursor.fetchone()[0]
        return None if estimate < 0 else int(estimate)


def test_an_import_leaves_the_planner_statistics_current(tmp_path, unit_a):
    # Without statistics SQLite walked the (unit, placed_at) index per order for a unit's cohorts.
    run_import("online_retail", write_csv(tmp_path / "retail.csv", RESUME_ROWS), unit=unit_a)

    assert planner_row_estimate("commerce_order") == 5


def test_reimporting_the_same_file_adds_nothing(tmp_path, unit_a):
    path = write_csv(tmp_path / "retail.csv", RESUME_ROWS)
    run_import("online_retail", path, unit=unit_a)

    again = run_import("online_retail", path, unit=unit_a)

    assert (again.counts["orders_created"], again.counts["orders_existing"]) == (0, 5)
    assert (again.counts["returns_created"], again.counts["customers_created"]) == (0, 0)
    assert orders_snapshot() == RESUME_ORDERS
    assert (
        Order.objects.count(),
        OrderLine.objects.count(),
        Return.objects.count(),
        Customer.objects.count(),
        Identity.objects.count(),
        Store.objects.count(),
    ) == (5, 9, 1, 3, 3, 1)


def test_dry_run_reports_what_would_happen_and_writes_nothing_else(tmp_path, unit_a):
    path = write_csv(tmp_path / "retail.csv", RESUME_ROWS)

    dry = run_import("online_retail", path, unit=unit_a, dry_run=True)

    assert dry.state == ImportRun.State.SUCCEEDED
    assert dry.dry_run is True
    assert dry.counts == RESUME_COUNTS
    assert (
        Order.objects.count(),
        OrderLine.objects.count(),
        Return.objects.count(),
        Customer.objects.count(),
        Store.objects.count(),
    ) == (0, 0, 0, 0, 0)
    assert not AuditEntry.objects.filter(action="import").exists()
    assert run_import("online_retail", path, unit=unit_a).counts == RESUME_COUNTS


def test_an_interrupted_import_resumes_to_the_same_result(tmp_path, unit_a, monkeypatch):
    path = write_csv(tmp_path / "retail.csv", RESUME_ROWS)
    real_upsert = online_retail_preset.upsert_returns

    def crash(returns):
        if returns:
            raise RuntimeError("worker killed")
        return real_upsert(returns)

    # The first return comes in the third chunk, after that chunk's orders and lines were written.
    monkeypatch.setattr(online_retail_preset, "upsert_returns", crash)
    with pytest.raises(RuntimeError, match="worker killed"):
        run_import("online_retail", path, unit=unit_a, chunk_size=3)

    run = ImportRun.objects.get()
    assert (run.state, run.position, run.counts["rows"]) == (ImportRun.State.INTERRUPTED, 6, 6)
    assert sorted(Order.objects.values_list("number", flat=True)) == ["536365", "536366"]
    assert not Return.objects.exists()  # the third chunk rolled back whole
    assert Order.objects.get(number="536366").total_amount == Decimal("11.10")

    monkeypatch.setattr(online_retail_preset, "upsert_returns", real_upsert)
    resumed = resume_import(run, chunk_size=3)

    assert resumed.state == ImportRun.State.SUCCEEDED
    assert resumed.position == 12
    assert resumed.counts == RESUME_COUNTS
    assert orders_snapshot() == RESUME_ORDERS
    assert Return.objects.get().amount == Decimal("27.50")
    assert ImportRowError.objects.filter(run=run).count() == 2


def test_hostile_rows_are_rejected_with_row_column_and_reason_while_good_rows_import(tmp_path, unit_a):
    huge = "X" * 50_000
    rows = [
        [
            "536365",
            "85123A",
            "WHITE HANGING HEART T-LIGHT HOLDER",
            "6",
            "2010-12-01 08:26:00",
            "2.55",
            "17850",
            "UK",
        ],
        ["536366", "22633", "HAND WARMER", "6", "2010-13-45 25:61:00", "1.85", "17850", "UK"],
        ["536367", "22633", "HAND WARMER", "six", "2010-12-01 08:28:00", "1.85", "17850", "UK"],
        ["536368", "22633", "HAND WARMER", "6", "2010-12-01 08:28:00", "1,85", "17850", "UK"],
        ["536369", "22633", FORMULA, "1", "2010-12-01 08:30:00", "1.00", "17850", "UK"],
        ["536370", "22633", "HAND WARMER", "=1+2", "2010-12-01 08:31:00", "1.00", "17850", "UK"],
        ["536371", "22728", "ALARM CLOCK"],
        [],
        ["536372", "22728", huge, "2", "2010-12-01 08:33:00", "3.75", "", "UK"],
    ]
    path = write_csv(tmp_path / "hostile.csv", rows)

    run = run_import("online_retail", path, unit=unit_a)

    assert run.state == ImportRun.State.SUCCEEDED
    assert (run.counts["rows"], run.counts["imported"], run.counts["rejected"], run.counts["skipped"]) == (
        9,
        3,
        5,
        1,
    )
    assert list(run.row_errors.values_list("row", "column", "value", "level", "code")) == [
        (3, "InvoiceDate", "2010-13-45 25:61:00", "rejected", "bad_date"),
        (4, "Quantity", "six", "rejected", "bad_quantity"),
        (5, "UnitPrice", "1,85", "rejected", "bad_price"),
        (7, "Quantity", "=1+2", "rejected", "bad_quantity"),
        (8, "Quantity", "", "rejected", "bad_quantity"),
        (9, "", "", "skipped", "empty_row"),
    ]
    assert sorted(Order.objects.values_list("number", "total_amount")) == [
        ("536365", Decimal("15.30")),
        ("536369", Decimal("1.00")),
        ("536372", Decimal("7.50")),
    ]
    assert OrderLine.objects.get(order__number="536369").name == FORMULA  # text, never evaluated
    assert OrderLine.objects.get(order__number="536372").name == "X" * 200

    report = io.StringIO()
    assert write_error_report(run, report) == 6
    lines = list(csv.reader(io.StringIO(report.getvalue())))
    assert lines[0] == ["row", "column", "value", "outcome", "code", "reason"]
    assert lines[4] == [
        "7",
        "Quantity",
        "'=1+2",
        "Rejected",
        "bad_quantity",
        "Quantity is not a whole number",
    ]


def test_missing_columns_fail_the_file_with_a_clear_message(tmp_path, unit_a):
    header = [name for name in HEADER if name != "UnitPrice"]
    path = write_csv(
        tmp_path / "no_price.csv",
        [["536365", "85123A", "HOLDER", "6", "2010-12-01 08:26:00", "17850", "UK"]],
        header=header,
    )

    run = run_import("online_retail", path, unit=unit_a)

    assert run.state == ImportRun.State.FAILED
    assert run.message == (
        "Required columns missing: UnitPrice (found: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, "
        "CustomerID, Country)"
    )
    assert (Order.objects.count(), Store.objects.count()) == (0, 0)


@pytest.mark.parametrize(
    ("encoding", "detected"), [("gbk", "gb18030"), ("utf-8-sig", "utf-8-sig"), ("utf-8", "utf-8")]
)
def test_encodings_are_detected_and_header_cells_trimmed(tmp_path, unit_a, encoding, detected):
    header = [f" {name}  " for name in HEADER]
    rows = [["536365", "85123A", "白色挂心灯 ", "6", "2010-12-01 08:26:00", "2.55", "17850", "英国"]]
    path = write_csv(tmp_path / "orders.csv", rows, header=header, encoding=encoding)

    run = run_import("online_retail", path, unit=unit_a)

    assert run.state == ImportRun.State.SUCCEEDED
    assert run.params["encoding"] == detected
    assert OrderLine.objects.get().name == "白色挂心灯"


def test_xlsx_is_read_with_formulas_kept_as_text(tmp_path, unit_a):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(
        ["536365", "85123A", "=SUM(A1:A2)", 6, datetime(2010, 12, 1, 8, 26), 2.55, 17850, "United Kingdom"]
    )
    path = tmp_path / "orders.xlsx"
    workbook.save(path)

    run = run_import("online_retail", path, unit=unit_a)

    assert run.state == ImportRun.State.SUCCEEDED
    order = Order.objects.get()
    assert (order.total_amount, order.placed_at) == (
        Decimal("15.30"),
        datetime(2010, 12, 1, 8, 26, tzinfo=LONDON),
    )
    assert order.lines.get().name == "=SUM(A1:A2)"
    assert Identity.objects.get().value == "17850"


def test_unsupported_file_types_fail_clearly(tmp_path, unit_a):
    path = tmp_path / "orders.pdf"
    path.write_bytes(b"%PDF-1.4")

    run = run_import("online_retail", path, unit=unit_a)

    assert (run.state, run.message) == (
        ImportRun.State.FAILED,
        "Unsupported file type orders.pdf: use .csv, .csv.gz, .xlsx or .json",
    )


def test_the_worker_job_runs_an_import_and_reports_progress(tmp_path, unit_a, admin_user):
    path = write_csv(tmp_path / "retail.csv", RESUME_ROWS)
    job = create_job(
        "commerce.import",
        params={"kind": "online_retail", "path": str(path), "dry_run": False},
        started_by=admin_user,
        unit=unit_a,
    )

    run_job(job)

    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert (job.progress_done, job.progress_total) == (12, 12)
    assert job.counts["orders_created"] == 5
    run = ImportRun.objects.get(job=job)
    assert (run.state, run.started_by, run.unit) == (ImportRun.State.SUCCEEDED, admin_user, unit_a)


def test_a_job_for_a_broken_file_fails_with_the_reason(tmp_path, unit_a):
    path = write_csv(tmp_path / "retail.csv", [["1"]], header=["Nothing"])
    job = create_job("commerce.import", params={"kind": "online_retail", "path": str(path)}, unit=unit_a)

    run_job(job)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.message.startswith(
        "Required columns missing: InvoiceNo, StockCode, Quantity, InvoiceDate, UnitPrice"
    )


def test_unknown_kind_is_refused(tmp_path, unit_a):
    with pytest.raises(ValueError, match="Unknown import kind 'magic'"):
        run_import("magic", tmp_path / "x.csv", unit=unit_a)


def test_an_interrupted_dry_run_resumes_to_the_same_report(tmp_path, unit_a):
    path = write_csv(tmp_path / "retail.csv", RESUME_ROWS)
    reports = []

    def stop_after_two_chunks(done, total, message):
        reports.append((done, total))
        if done == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_import(
            "online_retail", path, unit=unit_a, dry_run=True, progress=stop_after_two_chunks, chunk_size=3
        )

    run = ImportRun.objects.get()
    assert reports == [(0, 12), (3, 12), (6, 12)]
    assert (run.state, run.position) == (ImportRun.State.INTERRUPTED, 6)

    resumed = resume_import(run, chunk_size=3)

    assert resumed.counts == RESUME_COUNTS
    assert (Order.objects.count(), Customer.objects.count()) == (0, 0)
