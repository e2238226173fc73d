"""Long work as `Job` rows: declare a kind, start it, report progress, recover it.

The database is the source of truth; the queue only wakes a worker. A job handler is a
plain function `handler(job, progress)` registered with `@job_kind("app.name")` in the
app's `jobs.py`. It must be safe to run again (a crashed worker's job is re-queued).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from guanxi.core.display import Coded
from guanxi.core.models import Job
from guanxi.core.phrases import GAVE_UP

logger = logging.getLogger(__name__)

JobHandler = Callable[[Job, "Progress"], dict[str, Any] | None]
JOB_KINDS: dict[str, JobHandler] = {}
JOB_LABELS: dict[str, Any] = {}
# Per kind, how the job pages show its counts: a (translatable) label per key, None to leave one out
# (ids of the records it made, which the page links instead). Keys without an entry show as named.
JOB_COUNT_LABELS: dict[str, dict[str, Any]] = {}

HEARTBEAT_EVERY = timedelta(seconds=1)
STALE_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 3


class JobInputError(Exception):
    """A job ends because of its input (a bad file, a missing unit): logged as a line, not a traceback."""


def job_kind(
    kind: str, label: Any = None, counts: dict[str, Any] | None = None
) -> Callable[[JobHandler], JobHandler]:
    """Register `handler(job, progress)` for `kind`; `label` (translatable) is what the job pages show,
    `counts` labels the keys of its counts (see JOB_COUNT_LABELS)."""

    def register(handler: JobHandler) -> JobHandler:
        JOB_KINDS[kind] = handler
        if label is not None:
            JOB_LABELS[kind] = label
        if counts is not None:
            JOB_COUNT_LABELS[kind] = counts
        return handler

    return register


@dataclass
class Progress:
    """Progress of one running job, saved at most once a second, and echoed to listeners (the CLI bar)."""

    job: Job
    listeners: list[Callable[[Job], None]] = field(default_factory=list)
    _last_saved: Any = None

    def set_total(self, total: int | None) -> None:
        self.job.progress_total = total
        self._save(force=True)

    def advance(self, steps: int = 1, message: str | Coded = "", **counts: int) -> None:
        """Count `steps` done; `message` says what is being done, best as a phrase (shown in the
        reader's language) rather than a text in the worker's."""
        self.job.progress_done += steps
        for name, value in counts.items():
            self.job.counts[name] = self.job.counts.get(name, 0) + value
        if isinstance(message, Coded):
            self.job.message, self.job.message_params = message.code, message.params
        elif message:
            self.job.message, self.job.message_params = message[:500], {}
        self._save()

    def error(self, error: dict[str, Any]) -> None:
        self.job.errors.append(error)

    def _save(self, force: bool = False) -> None:
        now = timezone.now()
        for listener in self.listeners:
            listener(self.job)
        if force or self._last_saved is None or now - self._last_saved >= HEARTBEAT_EVERY:
            self.job.heartbeat_at = now
            # A queryset update, so a handler's own transaction never rolls progress back
            # and progress never overwrites fields the handler did not touch.
            Job.objects.filter(pk=self.job.pk).update(
                progress_done=self.job.progress_done,
                progress_total=self.job.progress_total,
                counts=self.job.counts,
                errors=self.job.errors[-200:],
                message=self.job.message,
                message_params=self.job.message_params,
                heartbeat_at=now,
            )
            self._last_saved = now


def create_job(kind: str, *, params: dict | None = None, started_by: Any = None, unit: Any = None) -> Job:
    if kind not in JOB_KINDS:
        raise ValueError(f"Unknown job kind {kind!r}")
    return Job.objects.create(
        kind=kind,
        params=params or {},
        started_by=started_by if getattr(started_by, "is_authenticated", False) else None,
        unit=unit,
    )


def start_job(kind: str, *, params: dict | None = None, started_by: Any = None, unit: Any = None) -> Job:
    """Create a queued job and hand it to the worker once the surrounding transaction commits."""
    from guanxi.core.tasks import run_job_task

    job = create_job(kind, params=params, started_by=started_by, unit=unit)
    transaction.on_commit(lambda: run_job_task(job.pk))
    return job


def run_job(job: Job, listeners: list[Callable[[Job], None]] | None = None) -> Job:
    """Run a job in this process. Used by the worker and by CLI commands that show a progress bar."""
    claimed = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
        state=Job.State.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        attempts=job.attempts + 1,
    )
    if not claimed:
        logger.info("job %s is not queued any more; skipping", job.pk)
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    progress = Progress(job, listeners or [])
    try:
        result = JOB_KINDS[job.kind](job, progress)
    except JobInputError as error:
        logger.warning("job %s (%s) failed: %s", job.pk, job.kind, error)
        progress.error({"reason": str(error)})
        _finish(job, Job.State.FAILED, message=str(error)[:500])
        return job
    except Exception as error:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        progress.error({"reason": f"{type(error).__name__}: {error}"})
        _finish(job, Job.State.FAILED, message=str(error)[:500])
        return job
    if result:
        job.counts.update(result)
    _finish(job, Job.State.SUCCEEDED, message=job.message)
    return job


def _finish(job: Job, state: str, message: str) -> None:
    if message != job.message:  # a failure's own words replace the last progress phrase
        job.message_params = {}
    job.state = state
    job.message = message
    job.finished_at = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        state=state,
        message=message,
        message_params=job.message_params,
        finished_at=job.finished_at,
        progress_done=job.progress_done,
        progress_total=job.progress_total,
        counts=job.counts,
        errors=job.errors[-200:],
    )


def sweep_stale_jobs() -> int:
    """Re-queue jobs whose worker died (no heartbeat for STALE_AFTER); give up after MAX_ATTEMPTS."""
    from guanxi.core.tasks import run_job_task

    cutoff = timezone.now() - STALE_AFTER
    requeued = 0
    for job in Job.objects.filter(state=Job.State.RUNNING, heartbeat_at__lt=cutoff):
        if job.attempts >= MAX_ATTEMPTS:
            Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
                state=Job.State.FAILED,
                finished_at=timezone.now(),
                message=GAVE_UP.code,
                message_params={"attempts": job.attempts},
            )
            continue
        if Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(state=Job.State.QUEUED):
            run_job_task(job.pk)
            requeued += 1
    return requeued
