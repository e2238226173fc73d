"""Commerce work the background worker runs (see guanxi.core.background)."""

from pathlib import Path
from typing import Any

from django.utils.translation import gettext_lazy as _

from guanxi.accounts.models import BusinessUnit
from guanxi.commerce.importers import ImportFileError, resume_import, run_import
from guanxi.commerce.importers.base import ProgressCallback
from guanxi.commerce.models import ImportRun
from guanxi.commerce.uploads import IMPORT_JOB
from guanxi.core.background import Progress, job_kind
from guanxi.core.display import Coded
from guanxi.core.models import Job
from guanxi.customers.merging.strong import resolve_strong_matches

# Labels of the presets' counters; a counter without one is shown by its name.
COUNT_LABELS = {
    "customers_created": _("Customers created"),
    "customers_existing": _("Customers already known"),
    "customers_merged": _("Customers merged"),
    "orders_created": _("Orders created"),
    "orders_existing": _("Orders already known"),
    "orders_updated": _("Orders updated"),
    "orders_unchanged": _("Orders unchanged"),
    "orders_stale": _("Orders older than ours"),
    "order_lines": _("Order lines"),
    "returns_created": _("Returns created"),
    "returns_existing": _("Returns already known"),
}


def progress_callback(progress: Progress) -> ProgressCallback:
    """Adapt the importer's (done, total, message) reports to a job's Progress."""

    def report(done: int, total: int | None, message: str | Coded) -> None:
        if total != progress.job.progress_total:
            progress.set_total(total)
        progress.advance(done - progress.job.progress_done, message)

    return report


@job_kind(
    IMPORT_JOB,
    label=_("Import a file"),
    counts={
        "rows": _("Rows"),
        "imported": _("Imported"),
        "skipped": _("Skipped"),
        "rejected": _("Rejected"),
        "warnings": _("Warnings"),
        **COUNT_LABELS,
        "import_run": None,
        "issues_stored": None,
    },
)
def import_file(job: Job, progress: Progress) -> dict[str, Any]:
    """params: kind, path, dry_run, store_source, mapping or mapping_name (optional), unit_id (else the job's
    unit).

    A re-run of the same job (a crashed worker's job is re-queued) resumes its import run.
    """
    params = job.params
    report = progress_callback(progress)
    run = ImportRun.objects.filter(
        job=job, state__in=[ImportRun.State.INTERRUPTED, ImportRun.State.RUNNING]
    ).first()
    if run is not None:
        run = resume_import(run, progress=report)
    else:
        unit = job.unit or BusinessUnit.objects.get(pk=params["unit_id"])
        run = run_import(
            params["kind"],
            Path(params["path"]),
            unit=unit,
            dry_run=bool(params.get("dry_run", False)),
            progress=report,
            started_by=job.started_by,
            job=job,
            store_source=params.get("store_source"),
            options={name: params[name] for name in ("mapping", "mapping_name") if params.get(name)} or None,
        )
    if run.state == ImportRun.State.FAILED:
        raise ImportFileError(run.message)
    counts = {name: value for name, value in run.counts.items() if isinstance(value, int)}
    if not run.dry_run:
        # Records of one person arriving from different stores share a strong identifier only
        # after normalisation; fold them into one customer now rather than at the next scan.
        counts["customers_merged"] = len(resolve_strong_matches(actor=job.started_by))
    return {"import_run": run.pk, **counts}
