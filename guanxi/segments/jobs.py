"""Background job kinds of the segments app: refreshing memberships."""

from guanxi.core.background import Progress, job_kind, start_job
from guanxi.core.models import Job
from guanxi.segments.actions import refresh_segment
from guanxi.segments.models import Segment

REFRESH_KIND = "segments.refresh"


@job_kind(REFRESH_KIND)
def run_refresh(job: Job, progress: Progress) -> dict:
    """params: {"segment": a segment id, or null for every dynamic segment}."""
    segment_id = job.params.get("segment")
    chosen = (
        Segment.objects.filter(pk=segment_id)
        if segment_id
        else Segment.objects.filter(kind=Segment.Kind.DYNAMIC)
    )
    segments = list(chosen.order_by("pk"))
    progress.set_total(len(segments))
    totals = {"segments": 0, "entered": 0, "exited": 0}
    for segment in segments:
        result = refresh_segment(segment)
        totals["segments"] += 1
        totals["entered"] += result.entered
        totals["exited"] += result.exited
        progress.advance(1, message=segment.name)
    return totals


def scheduled_refresh() -> None:
    """The periodic refresh of every dynamic segment (see guanxi/config/schedules.py)."""
    start_job(REFRESH_KIND, params={"segment": None})
