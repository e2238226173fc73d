"""Background job kinds of the analytics app."""

from django.utils.translation import gettext_lazy as _

from guanxi.accounts.models import BusinessUnit
from guanxi.analytics.refresh import refresh_metrics
from guanxi.analytics.rollup import refresh_sales_rollup
from guanxi.core.background import Progress, job_kind
from guanxi.core.models import Job
from guanxi.core.planner import refresh_planner_statistics

REFRESH_KIND = "analytics.refresh"


@job_kind(
    REFRESH_KIND,
    label=_("Refresh customer metrics"),
    counts={"customers": _("Customers"), "model_run": None},
)
def run_refresh(job: Job, progress: Progress) -> dict:
    """params: {"unit": business unit id or null (organisation and every unit), "full": bool}."""
    unit_id = job.params.get("unit")
    unit = BusinessUnit.objects.get(pk=unit_id) if unit_id else None
    run = refresh_metrics(unit=unit, full=bool(job.params.get("full")), progress=progress, job=job)
    # The reports' daily sales rollup follows the same refresh: the touched days, or all with --full.
    refresh_sales_rollup(full=bool(job.params.get("full")) and unit is None)
    refresh_planner_statistics()  # the metrics table was just rewritten
    return {"customers": run.counts.get("customers", 0), "model_run": run.pk}


def nightly_refresh() -> None:
    """The scheduled refresh: incremental, turning full when the models are due for a refit."""
    from guanxi.core.background import start_job

    start_job(REFRESH_KIND, params={"unit": None, "full": False})
