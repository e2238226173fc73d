"""Reading import files: CSV (plain or gzip), XLSX and JSON, any of the encodings merchants' tools write.

Rows come out as lists of strings, never evaluated: an XLSX formula arrives as its text, a
CSV cell as it was written. Header cells are trimmed, because real Tmall exports pad them.
"""

import codecs
import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from guanxi.core.background import JobInputError

SNIFF_BYTES = 256 * 1024
# Cells beyond this length are cut, so a hostile file cannot make one row use unbounded memory.
MAX_CELL_CHARS = 10_000
csv.field_size_limit(1_000_000)
UNDECODABLE = "\ufffd"
# Characters that make a row unreadable: undecodable bytes, and NUL, which no text column takes.
UNREADABLE = (UNDECODABLE, "\x00")
# Whitespace a spreadsheet leaves around header cells: spaces, NBSP, ideographic space, BOM.
HEADER_PADDING = " \t\r\n\u00a0\u3000\ufeff"


class ImportFileError(JobInputError):
    """The file as a whole cannot be imported (unreadable, wrong format, required columns missing)."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    format: str  # "csv", "xlsx" or "json"
    compressed: bool

    @property
    def name(self) -> str:
        return self.path.name


def describe(path: Path) -> SourceFile:
    if not path.is_file():
        raise ImportFileError(_("File not found: %(name)s") % {"name": path.name})
    name = path.name.lower()
    compressed = name.endswith(".gz")
    if compressed:
        name = name[:-3]
    if name.endswith((".xlsx", ".xlsm")):
        if compressed:
            raise ImportFileError(_("Compressed spreadsheets are not supported; unpack the .xlsx first."))
        return SourceFile(path, "xlsx", False)
    if name.endswith((".csv", ".txt", ".tsv")):
        return SourceFile(path, "csv", compressed)
    if name.endswith((".json", ".jsonl", ".ndjson")):
        return SourceFile(path, "json", compressed)
    raise ImportFileError(
        _("Unsupported file type %(name)s: use .csv, .csv.gz, .xlsx or .json") % {"name": path.name}
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_bytes(source: SourceFile) -> gzip.GzipFile | io.BufferedReader:
    if source.compressed:
        return gzip.open(source.path, "rb")
    return source.path.open("rb")


def detect_encoding(sample: bytes) -> str:
    """UTF-8 with BOM, UTF-8, else GB18030 (a superset of GBK and GB2312)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # A multi-byte character may be cut at the end of the sample; the incremental
        # decoder accepts that where a plain decode would not.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def read_rows(source: SourceFile) -> tuple[list[str], Iterator[list[str]], str]:
    """The trimmed header, an iterator over data rows (lists of strings) and the encoding used.

    Undecodable bytes become U+FFFD so the row can be rejected with a reason instead of the
    whole file failing half-way.
    """
    if source.format == "xlsx":
        return _read_xlsx(source)
    if source.format == "json":
        return _read_json(source)
    try:
        with _open_bytes(source) as handle:
            sample = handle.read(SNIFF_BYTES)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise ImportFileError(
            _("Cannot read %(name)s: %(error)s") % {"name": source.name, "error": error}
        ) from error
    encoding = detect_encoding(sample)
    rows = _csv_rows(source, encoding, sample)
    try:
        header = next(rows)
    except StopIteration:
        raise ImportFileError(_("The file is empty.")) from None
    return [trim_header(cell) for cell in header], rows, encoding


def _csv_rows(source: SourceFile, encoding: str, sample: bytes) -> Iterator[list[str]]:
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    try:
        text = sample.decode(encoding, errors="replace")
        first_line = text.splitlines()[0] if text else ""
        if first_line.count("\t") > first_line.count(","):
            dialect = csv.excel_tab
        elif first_line.count(";") > first_line.count(","):
            dialect = csv.Sniffer().sniff(first_line, delimiters=";")
    except csv.Error:
        pass
    try:
        with _open_bytes(source) as raw:
            text_stream = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
            # A NUL stays in its cell (the csv module accepts it since Python 3.11); the engine
            # rejects such rows as it does rows with undecodable bytes.
            for row in csv.reader(text_stream, dialect):
                if row and max(map(len, row)) > MAX_CELL_CHARS:
                    row = [cell[:MAX_CELL_CHARS] for cell in row]
                yield row
    except (OSError, EOFError, gzip.BadGzipFile, csv.Error) as error:
        raise ImportFileError(
            _("Cannot read %(name)s: %(error)s") % {"name": source.name, "error": error}
        ) from error


def _read_xlsx(source: SourceFile) -> tuple[list[str], Iterator[list[str]], str]:
    from openpyxl import load_workbook

    try:
        # read_only streams the sheet; data_only=False returns a formula as its text, never its result.
        workbook = load_workbook(source.path, read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many types for a damaged or mislabelled file
        raise ImportFileError(
            _("Cannot open %(name)s as a spreadsheet: %(error)s") % {"name": source.name, "error": error}
        ) from error
    sheet = workbook.worksheets[0]
    rows = ([cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True))
    try:
        header = next(rows)
    except StopIteration:
        workbook.close()
        raise ImportFileError(_("The file is empty.")) from None
    while header and header[-1] == "":
        header.pop()

    def data() -> Iterator[list[str]]:
        try:
            yield from rows
        finally:
            workbook.close()

    return [trim_header(cell) for cell in header], data(), "xlsx"


# The single column of a JSON file's rows: each row holds one record as JSON text.
JSON_COLUMN = "record"
# Wrappers platforms put around records: {"orders": [...]}, {"order": {...}}.
JSON_WRAPPERS = ("orders", "order", "customers", "customer", "items", "data")
MAX_JSON_BYTES = 512 * 1024 * 1024


def _read_json(source: SourceFile) -> tuple[list[str], Iterator[list[str]], str]:
    """One row per record of a JSON export (an array, a platform wrapper, or JSON lines).

    The engine's row semantics stay: row 2 is the first record, and a record is re-serialised
    so presets parse exactly one record per row.
    """
    try:
        with _open_bytes(source) as handle:
            raw = handle.read(MAX_JSON_BYTES + 1)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise ImportFileError(
            _("Cannot read %(name)s: %(error)s") % {"name": source.name, "error": error}
        ) from error
    if len(raw) > MAX_JSON_BYTES:
        raise ImportFileError(_("The JSON file is too large; split it into several files."))
    encoding = detect_encoding(raw[:SNIFF_BYTES])
    text = raw.decode(encoding, errors="replace")
    try:
        records = _json_records(text)
    except ValueError as error:
        raise ImportFileError(
            _("%(name)s is not valid JSON: %(error)s") % {"name": source.name, "error": error}
        ) from error
    rows = ([json.dumps(record, ensure_ascii=False)] for record in records)
    return [JSON_COLUMN], rows, encoding


def _json_records(text: str) -> list:
    stripped = text.strip()
    if not stripped:
        raise ImportFileError(_("The file is empty."))
    try:
        document = json.loads(stripped)
    except ValueError:
        # JSON lines: one record per line.
        return [json.loads(line) for line in stripped.splitlines() if line.strip()]
    if isinstance(document, dict):
        for wrapper in JSON_WRAPPERS:
            if wrapper in document:
                inner = document[wrapper]
                return inner if isinstance(inner, list) else [inner]
        return [document]
    if isinstance(document, list):
        return document
    raise ValueError("expected an object or an array")


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS]


def trim_header(cell: str) -> str:
    return (cell or "").strip(HEADER_PADDING).replace("\x00", UNDECODABLE)


def count_rows(source: SourceFile) -> int:
    """Data rows in the file. A full parse, so that a structurally broken file (a runaway
    quote, an oversized field) fails before anything is written rather than half-way."""
    _header, rows, _encoding = read_rows(source)
    return sum(1 for _row in rows)
