"""API shapes of core records that several apps' endpoints return (a started job)."""

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from guanxi.core.models import Job


class JobOut(Schema):
    id: int
    kind: str
    state: Job.State
    progress_done: int
    progress_total: int | None
    percent: int | None = Field(description="0–100, or null while the total is unknown.")
    counts: dict[str, Any] = Field(description='Named counters, e.g. {"created": 120, "skipped": 3}.')
    error_count: int
    message: str
    unit_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    is_finished: bool

    @staticmethod
    def resolve_error_count(job: Job) -> int:
        # Row-level error texts may quote imported personal data; only their number is exposed.
        return len(job.errors or [])
