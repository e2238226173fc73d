"""Job endpoints: the state and progress of long work (imports, analyses, demo loads)."""

from datetime import datetime
from typing import Any

from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from pydantic import Field

from guanxi.core.models import Job

router = Router(tags=["jobs"])


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


@router.get("/jobs/{job_id}", response=JobOut, summary="One job's state and progress")
def get_job(request, job_id: int):
    return get_object_or_404(Job.objects.restrict(request.user, "view"), pk=job_id)
