"""Sales work off the request: the lead import job, and the periodic rulebook sweep and reminders
(scheduled in guanxi/config/schedules.py)."""

from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from guanxi.accounts.models import BusinessUnit
from guanxi.commerce.importers.reading import count_rows, describe
from guanxi.core.background import JobInputError, Progress, job_kind, start_job
from guanxi.core.models import Job
from guanxi.sales.actions.activities import send_due_reminders
from guanxi.sales.actions.rulebook import flag_stale_records
from guanxi.sales.importing import import_leads

IMPORT_KIND = "sales.import_leads"


@job_kind(
    IMPORT_KIND,
    label=_("Import leads"),
    counts={
        "rows": _("Rows"),
        "created": _("Leads created"),
        "updated": _("Leads updated"),
        "unchanged": _("Unchanged"),
        "duplicate": _("Duplicates of open leads"),
        "rejected": _("Rows rejected"),
        "empty": _("Empty rows"),
    },
)
def run_lead_import(job: Job, progress: Progress) -> dict:
    """params: {"path": uploaded file, "unit": unit id, "language": the uploader's, for the row reasons}."""
    unit = BusinessUnit.objects.filter(pk=job.params.get("unit")).first()
    if unit is None:
        raise JobInputError("The business unit of this import no longer exists.")
    path = Path(job.params["path"])
    progress.set_total(count_rows(describe(path)))
    with translation.override(job.params.get("language") or None):
        report = import_leads(
            path, unit=unit, actor=job.started_by, progress=lambda steps, _m: progress.advance(steps)
        )
    for error in report.errors:
        progress.error(error)
    return {"rows": report.rows, **report.counts}


def start_lead_import(path: Path, *, unit, actor, language: str) -> Job:
    return start_job(
        IMPORT_KIND,
        params={"path": str(path), "unit": unit.pk, "language": language},
        started_by=actor,
        unit=unit,
    )


def sweep_stale_records() -> None:
    """Scheduled: flag the leads and opportunities that went stale (the rulebook's rule)."""
    flag_stale_records()


def remind() -> None:
    """Scheduled: notify the owners of planned activities whose reminder time has come."""
    send_due_reminders()
