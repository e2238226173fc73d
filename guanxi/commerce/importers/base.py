"""What a preset is: the columns it reads and how it turns a chunk of rows into records."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from guanxi.commerce.importers.reading import ImportFileError
from guanxi.commerce.models import ImportRowError, ImportRun
from guanxi.core.display import Coded

# (done, total, message): the shape guanxi.core.background.Progress is adapted to in jobs.py.
ProgressCallback = Callable[[int, int | None, str | Coded], None]
Row = tuple[int, list[str]]  # (row number in the file, header being row 1; cells)
VALUE_EXCERPT_CHARS = 100


@dataclass(frozen=True)
class RowIssue:
    """Why one row was not imported (rejected: invalid; skipped: a preset rule) or was imported with
    a warning. The reason is a phrase of guanxi.commerce.phrases, stored as its code."""

    row: int
    column: str
    value: str
    reason: Coded
    level: str = ImportRowError.Level.REJECTED

    @property
    def code(self) -> str:
        return self.reason.code

    def as_model(self, run: ImportRun) -> ImportRowError:
        value = (
            self.value if len(self.value) <= VALUE_EXCERPT_CHARS else self.value[:VALUE_EXCERPT_CHARS] + "…"
        )
        return ImportRowError(
            run=run,
            row=self.row,
            column=self.column[:100],
            value=value,
            level=self.level,
            code=self.reason.code[:64],
            params=self.reason.params,
        )


@dataclass
class ChunkResult:
    imported_rows: int = 0
    issues: list[RowIssue] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


@dataclass
class ParsedChunk:
    """What `Preset.parse` returns: presets extend it with their records."""

    result: ChunkResult = field(default_factory=ChunkResult)


@dataclass
class ImportContext:
    """Everything a preset needs while a run goes on; `state` survives from chunk to chunk."""

    run: ImportRun
    unit: Any
    actor: Any
    dry_run: bool
    header: list[str]
    columns: dict[str, int]
    store_source: str | None = None
    state: dict[str, Any] = field(default_factory=dict)


class Preset:
    """A kind of file. Subclasses declare columns and implement `process_chunk` (set-based writes)."""

    kind: ClassVar[str]
    label: ClassVar[Any]
    # field → header names accepted for it (compared trimmed and case-insensitively)
    columns: ClassVar[dict[str, tuple[str, ...]]]
    required: ClassVar[frozenset[str]]
    chunk_size: ClassVar[int] = 10_000
    # Counts this preset adds to the run's summary; they start at zero so a summary is always complete.
    counters: ClassVar[tuple[str, ...]] = ()
    # True when `parse` reads nothing that `write` sets: the engine then parses the next chunk in
    # a thread while this one is written (the writer mostly waits on the database).
    parse_ahead: ClassVar[bool] = False

    def map_columns(self, header: list[str]) -> dict[str, int]:
        positions = {name.casefold(): index for index, name in reversed(list(enumerate(header)))}
        mapped = {}
        for name, accepted in self.columns.items():
            for header_name in accepted:
                if header_name.casefold() in positions:
                    mapped[name] = positions[header_name.casefold()]
                    break
        missing = [
            self.columns[name][0] for name in self.columns if name in self.required and name not in mapped
        ]
        if missing:
            raise ImportFileError(
                _("Required columns missing: %(columns)s (found: %(found)s)")
                % {"columns": ", ".join(missing), "found": ", ".join(header) or "-"}
            )
        return mapped

    def begin(self, context: ImportContext) -> None:
        """Prepare the run (find or create the store). A dry run must not write."""

    def replay(self, rows: list[Row], context: ImportContext) -> None:
        """Rebuild cross-chunk state from rows a resumed run already committed."""

    def parse(self, rows: list[Row], context: ImportContext) -> ParsedChunk:
        """Turn rows into records in memory, without touching the database."""
        raise NotImplementedError

    def write(self, parsed: Any, context: ImportContext) -> ChunkResult:  # parsed: this preset's ParsedChunk
        """Write one parsed chunk (or, in a dry run, only look up what it would do)."""
        raise NotImplementedError
