"""Table exports: UTF-8 CSV with a BOM, XLSX, formula-safe cells, permission and audit."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from openpyxl import load_workbook

from guanxi.accounts.roles import Role
from guanxi.core.exports import Table, export_table, to_csv, to_xlsx
from guanxi.core.models import AuditEntry

ATTACK = "=cmd|' /C calc'!A0"
TABLE = Table(
    name="categories",
    title="Sales by category",
    columns=("品类", "Revenue", "Orders"),
    rows=(
        ("毛巾", Decimal("1234.50"), 3),
        (ATTACK, Decimal("-5.00"), 1),
        ("+1 free", None, 0),
        ("@SUM(A1)", Decimal("0.00"), 0),
        ("-minus", Decimal("1.00"), 0),
        ("\tTab", Decimal("1.00"), 0),
        ("plain - text", date(2025, 3, 1), 2),
    ),
)


def test_csv_starts_with_a_bom_and_neutralises_formulas():
    content = to_csv(TABLE)

    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows == [
        ["品类", "Revenue", "Orders"],
        ["毛巾", "1234.50", "3"],
        ["'" + ATTACK, "-5.00", "1"],
        ["'+1 free", "", "0"],
        ["'@SUM(A1)", "0.00", "0"],
        ["'-minus", "1.00", "0"],
        ["'\tTab", "1.00", "0"],
        ["plain - text", "2025-03-01", "2"],
    ]


def test_xlsx_writes_formula_looking_text_as_text():
    sheet = load_workbook(io.BytesIO(to_xlsx(TABLE))).active

    assert sheet.title == "categories"
    assert [cell.value for cell in sheet[1]] == ["品类", "Revenue", "Orders"]
    attack = sheet["A3"]
    assert (attack.value, attack.data_type, attack.quotePrefix) == (ATTACK, "s", True)
    assert (sheet["A5"].value, sheet["A5"].data_type) == ("@SUM(A1)", "s")
    assert (sheet["B2"].value, sheet["B2"].data_type) == (1234.5, "n")
    assert (sheet["B3"].value, sheet["B3"].data_type) == (-5, "n")
    assert sheet["B4"].value is None
    assert sheet["A2"].quotePrefix is False


def _request(user, path="/analytics/?format=csv&table=categories"):
    request = RequestFactory().get(path, REMOTE_ADDR="10.0.0.7")
    request.user = user
    return request


def test_export_is_audited_without_its_content(make_user, unit_a):
    head = make_user("head", Role.UNIT_HEAD, [unit_a])

    response = export_table(_request(head), TABLE, "xlsx", unit=unit_a)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].startswith('attachment; filename="guanxi-categories-')
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
    assert (entry.actor, entry.unit, entry.object_type, entry.object_id, entry.details, entry.ip_address) == (
        head,
        unit_a,
        "table",
        "categories",
        "XLSX file of 7 rows",
        "10.0.0.7",
    )
    assert "毛巾" not in entry.details


def test_export_without_permission_is_refused_and_audited(make_user):
    analyst = make_user("analyst", Role.ANALYST)  # analysts may not export by default

    with pytest.raises(PermissionDenied):
        export_table(_request(analyst), TABLE, "csv")

    entry = AuditEntry.objects.get(action=AuditEntry.Action.PERMISSION_DENIED)
    assert (entry.actor, entry.object_type, entry.object_id) == (analyst, "permission", "data.export")
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_unknown_format_is_an_error(make_user):
    with pytest.raises(ValueError):
        export_table(_request(make_user("head", Role.GROUP_MANAGER)), TABLE, "pdf")
