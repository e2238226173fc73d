"""The downloadable report of an import run: one CSV line per rejected or skipped row.

Values come from untrusted files, so a cell that a spreadsheet would run as a formula
(=, +, -, @, tab, carriage return first) is prefixed with an apostrophe; plain numbers are left as they are.
"""

import csv
import re
from typing import TextIO

from django.utils.translation import gettext as _

from guanxi.commerce.models import ImportRun

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


def neutralise_formula(value: str) -> str:
    if value.startswith(FORMULA_START) and not PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def write_error_report(run: ImportRun, stream: TextIO) -> int:
    """Write the report as CSV to `stream`; returns the number of rows listed."""
    writer = csv.writer(stream)
    writer.writerow([_("row"), _("column"), _("value"), _("outcome"), _("code"), _("reason")])
    written = 0
    for issue in run.row_errors.order_by("row", "id").iterator(chunk_size=2000):
        writer.writerow(
            [
                issue.row,
                neutralise_formula(issue.column),
                neutralise_formula(issue.value),
                issue.get_level_display(),
                issue.code,
                neutralise_formula(issue.reason_text),
            ]
        )
        written += 1
    return written
