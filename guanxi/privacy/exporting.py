"""The subject access export: every row about the person, as one JSON file and a CSV per table, zipped.

Rows are read a table at a time with `values()` (one query per table and per 2,000 rows), so a
customer with 10,000 events costs a handful of queries (bench/privacy.py measures it).
"""

import io
import json
import secrets
import shutil
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from guanxi.core import exports
from guanxi.core.models import AuditEntry
from guanxi.privacy.subject import Subject, tables

CHUNK = 2000


def exports_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "privacy"


def collect(subject: Subject, progress: Callable[[str, int], None] | None = None) -> dict[str, list[dict]]:
    """Every table's rows about the person (columns as stored), keyed by "app.Model"."""
    found: dict[str, list[dict]] = {}
    for table in tables():
        columns = [field.attname for field in table.model._meta.concrete_fields]
        rows: list[dict] = []
        queryset = table.rows(subject.customer_ids).values(*columns)
        for row in queryset.iterator(chunk_size=CHUNK):
            rows.append(row)
        if rows:
            found[table.label] = rows
        if progress is not None:
            progress(table.label, len(rows))
    about = [str(pk) for pk in subject.customer_ids]
    audit = [
        dict(row)
        for row in AuditEntry.objects.filter(object_type="customers.customer", object_id__in=about)
        .order_by("created_at", "id")
        .values("created_at", "action", "object_id", "actor_name", "message_code", "message_params")
    ]
    if audit:
        found[AuditEntry._meta.label] = audit
    if progress is not None:
        progress(AuditEntry._meta.label, len(audit))
    return found


def build_zip(subject: Subject, data: dict[str, list[dict]]) -> bytes:
    """data.json with every table, and one formula-safe CSV per table."""
    buffer = io.BytesIO()
    document = {
        "generated_at": timezone.now().isoformat(),
        "customers": subject.customer_ids,
        "tables": data,
    }
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(document, default=_plain, ensure_ascii=False, indent=1))
        for label, rows in data.items():
            columns = tuple(rows[0].keys())
            table = exports.Table(
                name=label,
                title=label,
                columns=columns,
                rows=tuple(tuple(_cell(row[column]) for column in columns) for row in rows),
            )
            archive.writestr(f"{label}.csv", exports.to_csv(table))
    return buffer.getvalue()


def save_zip(content: bytes) -> str:
    """Store the zip in a folder of its own with a random name; its path relative to exports_dir()."""
    folder = exports_dir() / secrets.token_hex(16)
    folder.mkdir(parents=True)
    path = folder / "export.zip"
    path.write_bytes(content)
    return str(path.relative_to(exports_dir()))


def remove_export_file(relative: str) -> None:
    folder = (exports_dir() / relative).parent
    if relative and folder != exports_dir() and folder.resolve().is_relative_to(exports_dir().resolve()):
        shutil.rmtree(folder, ignore_errors=True)


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=_plain)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)
