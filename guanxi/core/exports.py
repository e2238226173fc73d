"""Downloading a table as CSV or XLSX: permission-checked, audited and safe to open in a spreadsheet.

A cell whose text starts with =, +, -, @, a tab or a carriage return would run as a formula when the
file is opened (CSV injection). In CSV such text gets a leading apostrophe; in XLSX it is written as a
string cell with the quote-prefix style, never as a formula. Numbers stay numbers. CSV starts with a
UTF-8 byte order mark so Excel reads Chinese text correctly.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from openpyxl import Workbook

from guanxi.core import audit
from guanxi.core.access import require
from guanxi.core.models import AuditEntry
from guanxi.core.phrases import EXPORTED

EXPORT_PERMISSION = "data.export"
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
SHEET_TITLE_LIMIT = 31  # Excel's limit on a sheet name


@dataclass(frozen=True)
class Table:
    """A table to download. `name` is a plain identifier used in the file name and the audit log;
    cells are str, int, Decimal, float, date/datetime or None."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def looks_like_formula(value: str) -> bool:
    return value.startswith(FORMULA_PREFIXES)


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = _text(value)
    return "'" + text if looks_like_formula(text) else text


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(column) for column in table.columns])
    writer.writerows([csv_cell(value) for value in row] for row in table.rows)
    return buffer.getvalue().encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _sheet_title(table.name)
    for row_number, row in enumerate((table.columns, *table.rows), start=1):
        for column_number, value in enumerate(row, start=1):
            _write_cell(sheet.cell(row=row_number, column=column_number), value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_cell(cell, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool | int | float | Decimal):
        cell.value = value
        return
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value).replace(tzinfo=None)  # Excel has no time zones
    if isinstance(value, date):
        cell.value = value
        return
    text = str(value)
    cell.value = text
    if looks_like_formula(text):
        # openpyxl treats text starting with "=" as a formula; force a plain string.
        cell.data_type = "s"
        cell.quotePrefix = True


def _sheet_title(name: str) -> str:
    cleaned = "".join(ch for ch in name if ch not in "[]:*?/\\")
    return (cleaned or "export")[:SHEET_TITLE_LIMIT]


def _file_name(table: Table, fmt: str) -> str:
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in table.name)
    return f"guanxi-{safe}-{timezone.localdate():%Y%m%d}.{fmt}"


def export_table(request, table: Table, fmt: str, *, unit: Any = None) -> HttpResponse:
    """The file for `table` in `fmt` ("csv" or "xlsx") if the user may export data; otherwise the
    refusal is audited and PermissionDenied raised. The audit entry names the table and the number
    of rows, never their content."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format: {fmt}")
    user = require(request, EXPORT_PERMISSION, unit=unit)
    content = to_csv(table) if fmt == "csv" else to_xlsx(table)
    audit.record(
        AuditEntry.Action.EXPORT,
        actor=user,
        unit=unit,
        ip_address=audit.client_address(request),
        object_type="table",
        object_id=table.name[:64],
        message=EXPORTED(format=fmt, rows=len(table.rows)),
    )
    response = HttpResponse(content, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{_file_name(table, fmt)}"'
    return response
