"""Generic customers and orders files: automatic and saved column mappings, identities of any kind."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from guanxi.commerce.actions import save_import_mapping
from guanxi.commerce.importers import run_import
from guanxi.commerce.models import ImportMapping, ImportRun, Order
from guanxi.customers.models import Customer, Identity

SHANGHAI = ZoneInfo("Asia/Shanghai")


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def test_customers_with_chinese_headers_map_themselves(tmp_path, unit_a):
    path = write_csv(
        tmp_path / "members.csv",
        [
            ["姓名", "手机号 ", "邮箱", "性别", "生日", "QQ号"],
            ["李雷", "138 1234 5678", "LiLei@Mail.CN", "男", "1990-05-01", "10001"],
            ["韩梅梅", "138****5678", "", "女", "", ""],
            ["王芳", "13912345678", "test@test.com", "x", "", ""],
            ["李雷", "+86 13812345678", "", "", "", ""],
        ],
        "gbk",
    )

    run = run_import("generic_customers", path, unit=unit_a)

    assert run.state == ImportRun.State.SUCCEEDED
    # Row 5 is 李雷 again: counted once, as existing (a customer an earlier row created).
    assert (run.counts["customers_created"], run.counts["customers_existing"]) == (1, 1)
    assert list(run.row_errors.values_list("row", "column", "code")) == [
        (3, "手机号", "no_identity"),
        (4, "性别", "bad_gender"),
    ]
    customer = Customer.objects.get()
    assert (customer.name, customer.gender, customer.birthday) == ("李雷", "male", date(1990, 5, 1))
    assert sorted(customer.identities.values_list("kind", "value")) == [
        ("email", "lilei@mail.cn"),
        ("phone", "+8613812345678"),
        ("qq", "10001"),
    ]


def test_saved_mapping_is_used_when_its_columns_are_present(tmp_path, unit_a, admin_user):
    save_import_mapping(
        kind="generic_customers",
        name="CRM export",
        mapping={"Cust No": "identity:external_id", "Full Name": "name", "Town": "city", "Ignore me": ""},
        actor=admin_user,
    )
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Cust No", "Full Name", "Town", "Ignore me"])
    sheet.append(["C-1", "Ada", "Hangzhou", "x"])
    sheet.append(["C-2", "Bo", "Suzhou", "y"])
    path = tmp_path / "crm.xlsx"
    workbook.save(path)

    run = run_import("generic_customers", path, unit=unit_a, store_source="crm")

    assert run.counts["customers_created"] == 2
    assert sorted(Identity.objects.values_list("kind", "namespace", "value")) == [
        ("external_id", "crm", "C-1"),
        ("external_id", "crm", "C-2"),
    ]
    assert sorted(Customer.objects.values_list("name", "city")) == [("Ada", "Hangzhou"), ("Bo", "Suzhou")]
    assert ImportMapping.objects.get().mapping["Cust No"] == "identity:external_id"


def test_every_row_has_one_outcome_and_a_dropped_value_is_a_warning(tmp_path, unit_a):
    path = write_csv(
        tmp_path / "members.csv",
        [
            ["手机", "邮箱"],
            ["13812345678", "not-an-email"],
            ["13812345678", ""],
            ["", "ada@mail.cn"],
            ["", ""],
            ["138****5678", ""],
        ],
    )

    first = run_import("generic_customers", path, unit=unit_a)
    second = run_import("generic_customers", path, unit=unit_a)

    counted = (
        "rows",
        "imported",
        "skipped",
        "rejected",
        "warnings",
        "customers_created",
        "customers_existing",
    )
    assert [first.counts[name] for name in counted] == [5, 3, 1, 1, 1, 2, 1]
    assert [second.counts[name] for name in counted] == [5, 3, 1, 1, 1, 0, 3]
    assert [(e.row, e.column, e.value, e.level, e.code, e.reason_text) for e in first.row_errors.all()] == [
        (
            2,
            "邮箱",
            "not-an-email",
            "warning",
            "dropped_email",
            "Not a valid Email, or a placeholder: the row was imported without it",
        ),
        (5, "", "", "skipped", "empty_row", "Empty row"),
        (
            6,
            "手机",
            "138****5678",
            "rejected",
            "no_identity",
            "No usable identity: empty, masked or placeholder values identify nobody",
        ),
    ]
    assert sorted(Identity.objects.values_list("kind", "value")) == [
        ("email", "ada@mail.cn"),
        ("phone", "+8613812345678"),
    ]


def test_explicit_mapping_option_and_unknown_target(tmp_path, unit_a):
    path = write_csv(tmp_path / "c.csv", [["A", "B"], ["x@mail.cn", "Ada"]])

    bad = run_import("generic_customers", path, unit=unit_a, options={"mapping": {"A": "identity:fax"}})
    good = run_import(
        "generic_customers", path, unit=unit_a, options={"mapping": {"A": "identity:email", "B": "name"}}
    )

    assert (bad.state, bad.message) == (ImportRun.State.FAILED, "Unknown mapping targets: identity:fax")
    assert good.counts["customers_created"] == 1
    assert Customer.objects.get().name == "Ada"


def test_generic_orders_with_identities_and_statuses(tmp_path, unit_a):
    path = write_csv(
        tmp_path / "orders.csv",
        [
            ["Order ID", "Order Date", "Total", "Status", "Mobile", "Device", "Currency"],
            ["SO-1", "2024-02-01 09:30:00", "88.80", "completed", "13812345678", "mobile", "cny"],
            ["SO-2", "2024/02/02 10:00", "12.00", "交易成功", "13812345678", "电脑", ""],
            ["SO-3", "yesterday", "1.00", "", "", "", ""],
            ["SO-4", "2024-02-03 10:00:00", "5.00", "lost in space", "", "", ""],
            ["SO-5", "2024-02-04 10:00:00", "7.50", "", "", "", ""],
        ],
    )

    run = run_import("generic_orders", path, unit=unit_a, store_source="pos:shanghai")
    again = run_import("generic_orders", path, unit=unit_a, store_source="pos:shanghai")

    assert list(run.row_errors.values_list("row", "code")) == [(4, "bad_date"), (5, "unknown_status")]
    assert sorted(
        Order.objects.values_list("external_id", "status", "device", "total_amount", "currency")
    ) == [
        ("SO-1", "completed", "mobile", Decimal("88.80"), "CNY"),
        ("SO-2", "completed", "pc", Decimal("12.00"), "CNY"),
        ("SO-5", "created", "", Decimal("7.50"), "CNY"),
    ]
    assert Order.objects.get(external_id="SO-2").placed_at == datetime(2024, 2, 2, 10, 0, tzinfo=SHANGHAI)
    so1, so2 = Order.objects.get(external_id="SO-1"), Order.objects.get(external_id="SO-2")
    assert so1.customer_id == so2.customer_id is not None
    assert (again.counts["orders_created"], again.counts["orders_unchanged"]) == (0, 3)


def test_generic_orders_without_required_mapping_fails(tmp_path, unit_a):
    path = write_csv(tmp_path / "orders.csv", [["Something"], ["1"]])

    run = run_import("generic_orders", path, unit=unit_a)

    assert run.state == ImportRun.State.FAILED
    assert run.message.startswith("Required columns missing: external_id, placed_at, total_amount")
