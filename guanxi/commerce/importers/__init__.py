"""File importers: one engine (chunked, resumable, idempotent) and a preset per kind of file."""

from guanxi.commerce.importers.engine import IMPORT_KINDS, resume_import, run_import
from guanxi.commerce.importers.reading import ImportFileError

__all__ = ["IMPORT_KINDS", "ImportFileError", "resume_import", "run_import"]
