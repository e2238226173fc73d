"""Importing leads from a CSV or XLSX file, row by row: a bad row is reported (row, column, reason) and
skipped, the good ones are kept; a row with a known `external_id` updates its lead instead of adding
one, and a row whose phone or e-mail matches an open lead of the unit is counted as a duplicate.

Headers may be English or Chinese (姓名, 公司, 手机, 邮箱…); only a name or company and a phone or
e-mail are required. Files are read by commerce's import reader (encodings, BOMs, spreadsheets).
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from guanxi.commerce.importers.reading import ImportFileError, describe, read_rows, trim_header
from guanxi.sales.actions.leads import capture_lead
from guanxi.sales.models import Lead

# Column → the header names it is recognised by (compared case-insensitively).
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name", "姓名", "联系人", "客户姓名"),
    "company": ("company", "公司", "公司名称", "企业名称", "单位"),
    "title": ("title", "职务", "职位"),
    "phone": ("phone", "mobile", "手机", "手机号", "电话", "联系电话"),
    "email": ("email", "e-mail", "邮箱", "电子邮箱"),
    "source_detail": ("source", "来源", "渠道"),
    "description": ("description", "notes", "备注", "描述", "需求"),
    "external_id": ("external_id", "id", "编号", "线索编号"),
    "estimated_amount": ("estimated_amount", "amount", "预计金额", "金额"),
}
MAX_ERRORS = 200


@dataclass
class ImportReport:
    rows: int = 0
    counts: Counter = field(default_factory=Counter)
    errors: list[dict[str, Any]] = field(default_factory=list)


def map_headers(header: list[str]) -> dict[str, int]:
    """Column name → position, for the recognised headers; refuses a file without a contact column."""
    by_name = {trim_header(cell).lower(): position for position, cell in enumerate(header)}
    mapped = {
        column: by_name[alias.lower()]
        for column, aliases in COLUMNS.items()
        for alias in aliases
        if alias.lower() in by_name
    }
    if "phone" not in mapped and "email" not in mapped:
        raise ImportFileError(_("The file needs a phone (手机) or e-mail (邮箱) column."))
    if "name" not in mapped and "company" not in mapped:
        raise ImportFileError(_("The file needs a name (姓名) or company (公司) column."))
    return mapped


def import_leads(
    path: Path, *, unit: Any, actor: Any, progress: Callable[[int, str], None] | None = None
) -> ImportReport:
    """Capture every row of the file as a lead of `unit`; see the module."""
    header, rows, _encoding = read_rows(describe(path))
    mapped = map_headers(header)
    report = ImportReport()
    for number, cells in enumerate(rows, start=2):  # row 1 is the header
        report.rows += 1
        values: dict[str, Any] = {
            column: (cells[position].strip() if position < len(cells) else "")
            for column, position in mapped.items()
        }
        if not any(values.values()):
            report.counts["empty"] += 1
            continue
        try:
            amount = _amount(values.pop("estimated_amount", ""))
            external_id = values.pop("external_id", "")
            captured = capture_lead(
                unit=unit,
                actor=actor,
                source=Lead.Source.IMPORT,
                external_id=external_id,
                estimated_amount=amount,
                **values,
            )
            report.counts[captured.outcome] += 1
        except ValidationError as error:
            report.counts["rejected"] += 1
            fields = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
            for column, messages in fields.items():
                if len(report.errors) < MAX_ERRORS:
                    report.errors.append({"row": number, "column": column, "reason": " ".join(messages)})
        if progress is not None:
            progress(1, "")
    return report


def _amount(raw: str) -> Decimal:
    text = raw.replace(",", "").replace("¥", "").replace("￥", "").strip()
    if not text:
        return Decimal("0")
    try:
        amount = Decimal(text)
    except InvalidOperation as error:
        raise ValidationError(
            {"estimated_amount": _("“%(value)s” is not an amount.") % {"value": raw[:32]}}
        ) from error
    if amount < 0 or amount >= Decimal("1e12"):
        raise ValidationError({"estimated_amount": _("“%(value)s” is not an amount.") % {"value": raw[:32]}})
    return amount.quantize(Decimal("0.01"))
