"""Erasing a person: every declared field of every table, the files under GUANXI_HOME, and a
suppression that keeps them from being marketed again.

What each app declared (guanxi.customers.references.register_pii) decides: their rows deleted
(DeleteRows), fields emptied (Blank), their values replaced wherever they appear in tables not tied
to them (Scrub: job parameters, webhook texts, import errors, merge snapshots), or kept (Retain, the
allow-list). The phone and e-mail survive only as peppered hashes in the suppression list.
"""

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models.functions import Cast

from guanxi.customers.references import Blank, DeleteRows, Scrub, pii_fields
from guanxi.messaging.addresses import address_hash
from guanxi.messaging.models import Medium, Suppression
from guanxi.privacy.subject import Subject, json_forms

ERASED = "[erased]"
TEXT_FILES = {".csv", ".tsv", ".txt", ".json", ".jsonl", ".log", ".ndjson"}
# Files under GUANXI_HOME erasure leaves alone: the databases (rows are erased through the ORM),
# the static files and the analytics engine's copy (ids and figures only; rebuilt by engine-export).
SKIPPED_SUFFIXES = (".sqlite3", ".sqlite3-wal", ".sqlite3-shm", ".sqlite3-journal")
SKIPPED_DIRS = {"static", "clickhouse", "cache"}
SCRUB_BATCH = 500


def suppression_hashes(subject: Subject) -> list[tuple[str, str]]:
    """(medium, peppered hash) of each phone and e-mail: the only trace of them erasure keeps."""
    return sorted(
        {(Medium.SMS, address_hash(Medium.SMS, phone)) for phone in subject.phones}
        | {(Medium.EMAIL, address_hash(Medium.EMAIL, email)) for email in subject.emails}
    )


def erase_subject(subject: Subject, *, source: str) -> Counter:
    """Erase the person's data in the database (one transaction); rows touched per table."""
    counts: Counter = Counter()
    ids = subject.customer_ids
    pattern = subject.pattern()
    with transaction.atomic():
        for medium, digest in suppression_hashes(subject):
            Suppression.objects.update_or_create(
                medium=medium,
                address_hash=digest,
                defaults={
                    "scope": Suppression.Scope.ALL,
                    "reason": Suppression.Reason.ERASED,
                    "masked_address": "",
                    "source": source[:100],
                },
            )
        declared = pii_fields()
        for item in declared:
            if isinstance(item.how, DeleteRows):
                rows = item.model._base_manager.filter(**{f"{item.how.customer}__in": ids})
                _remove_files_on_commit(rows)
                _deleted, per_model = rows.delete()
                for label, number in per_model.items():
                    counts[f"deleted {label}"] += number
        for item in declared:
            if isinstance(item.how, Blank):
                values = {name: _empty(_field(item.model, name)) for name in item.fields}
                counts[f"blanked {item.model._meta.label}"] += item.model._base_manager.filter(
                    **{f"{item.how.customer}__in": ids}
                ).update(**values)
        if pattern is not None:
            tokens = subject.tokens()
            for item in declared:
                if isinstance(item.how, Scrub):
                    for name in item.fields:
                        counts[f"scrubbed {item.model._meta.label}"] += _scrub_field(
                            item.model, name, tokens, pattern
                        )
    return +counts


def _remove_files_on_commit(rows: models.QuerySet) -> None:
    """The stored files of rows about to be deleted (a ticket's photos) go once the deletion commits:
    deleting a row leaves its file behind, and a picture holds no token the file scan could find."""
    fields = [f.name for f in rows.model._meta.concrete_fields if isinstance(f, models.FileField)]
    names = [name for field in fields for name in rows.values_list(field, flat=True) if name]

    def remove() -> None:
        for name in names:
            default_storage.delete(name)

    if names:
        transaction.on_commit(remove)


def erase_files(subject: Subject, root: Path | None = None) -> int:
    """Remove the person's lines (text) or cells (spreadsheets) from every file under GUANXI_HOME;
    how many files changed."""
    pattern = subject.pattern()
    if pattern is None:
        return 0
    root = root or Path(settings.GUANXI_HOME)
    changed = 0
    tokens = subject.tokens()
    for path in _files(root):
        if _scrub_file(path, pattern, tokens):
            changed += 1
    return changed


def _files(root: Path) -> Iterable[Path]:
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).parts
        if not path.is_file() or (relative and relative[0] in SKIPPED_DIRS):
            continue
        if path.name.endswith(SKIPPED_SUFFIXES):
            continue
        yield path


def _scrub_file(path: Path, pattern: re.Pattern, tokens: list[str]) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _scrub_workbook(path, pattern)
    raw = path.read_bytes()
    text, encoding = _decode(raw)
    if suffix not in TEXT_FILES and text is None:
        # A binary file that names the person (a zip, an .xls) cannot be edited: it goes.
        if any(token.encode() in raw for token in tokens):
            path.unlink()
            return True
        return False
    if text is None or not pattern.search(text):
        return False
    kept = [line for line in text.splitlines(keepends=True) if not pattern.search(line)]
    path.write_bytes("".join(kept).encode(encoding))
    return True


def _decode(raw: bytes) -> tuple[str | None, str]:
    for encoding in ("utf-8", "gb18030"):  # a BOM stays a character of the text, so it is kept
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return None, "utf-8"


def _scrub_workbook(path: Path, pattern: re.Pattern) -> bool:
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    changed = False
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            if any(isinstance(cell.value, str) and pattern.search(cell.value) for cell in row):
                for cell in row:
                    cell.value = None
                changed = True
    if changed:
        workbook.save(path)
    return changed


def _field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)  # register_pii accepts concrete fields only
    return field


def _empty(field: models.Field) -> Any:
    if isinstance(field, models.JSONField):
        return field.get_default()
    if field.null:
        return None
    return ""


def _scrub_field(model: type[models.Model], name: str, tokens: list[str], pattern: re.Pattern) -> int:
    """Replace the person's values in `model.name` wherever they appear; rows changed."""
    field = model._meta.get_field(name)
    is_json = isinstance(field, models.JSONField)
    rows = model._base_manager.all()
    where = models.Q()
    if is_json:
        rows = rows.annotate(_as_text=Cast(name, models.TextField()))
        for token in tokens:
            for form in json_forms(token):
                where |= models.Q(_as_text__icontains=form)
    else:
        for token in tokens:
            where |= models.Q(**{f"{name}__icontains": token})
    changed = 0
    found = list(rows.filter(where).values_list("pk", name))
    for start in range(0, len(found), SCRUB_BATCH):
        for pk, value in found[start : start + SCRUB_BATCH]:
            cleaned = _scrub_value(value, pattern)
            if cleaned != value:
                model._base_manager.filter(pk=pk).update(**{name: cleaned})
                changed += 1
    return changed


def _scrub_value(value: Any, pattern: re.Pattern) -> Any:
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, dict):
        return {_scrub_value(key, pattern): _scrub_value(item, pattern) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub_value(item, pattern) for item in value]
    return value
