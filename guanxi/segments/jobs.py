"""Background job kinds of the segments app: refreshing memberships, tagging every member."""

from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from guanxi.accounts.models import BusinessUnit
from guanxi.core.background import JobInputError, Progress, job_kind, start_job
from guanxi.core.models import Job
from guanxi.customers.models import Customer, Tag
from guanxi.segments.actions import current_members, refresh_changed_customers, refresh_segment, tag_members
from guanxi.segments.models import Segment
from guanxi.service import actions as service

REFRESH_KIND = "segments.refresh"
TAG_KIND = "segments.tag"
NPS_KIND = "segments.nps"


def start_tag_members(segment: Segment, tag: Tag, *, actor: Any, remove: bool = False) -> Job:
    """Tag (or untag) every member in the background; the job page shows the progress."""
    return start_job(
        TAG_KIND,
        params={"segment": segment.pk, "tag": tag.pk, "remove": remove},
        started_by=actor,
        unit=segment.unit,
    )


@job_kind(TAG_KIND, label=_("Tag every member of a segment"), counts={"changed": _("Customers changed")})
def run_tag(job: Job, progress: Progress) -> dict:
    """params: {"segment": id, "tag": id, "remove": bool}; runs with the permissions of who started it."""
    segment = Segment.objects.filter(pk=job.params.get("segment")).first()
    tag = Tag.objects.filter(pk=job.params.get("tag")).first()
    if segment is None or tag is None or job.started_by is None:
        raise JobInputError(gettext("The segment or the tag no longer exists."))
    progress.set_total(segment.member_count)
    changed = tag_members(
        segment, tag, actor=job.started_by, remove=bool(job.params.get("remove")), progress=progress.advance
    )
    return {"changed": changed}


def start_nps_survey(segment: Segment, unit: BusinessUnit, *, actor: Any, round_name: str) -> Job:
    """Invite every current member to the unit's NPS survey in the background (once per round)."""
    service.require_manager(actor, unit)
    return start_job(
        NPS_KIND,
        params={"segment": segment.pk, "unit": unit.pk, "round": round_name},
        started_by=actor,
        unit=unit,
    )


@job_kind(NPS_KIND, label=_("Send an NPS survey to a segment"), counts={"invited": _("Customers invited")})
def run_nps(job: Job, progress: Progress) -> dict:
    """params: {"segment": id, "unit": id, "round": name}; the members the starter may see, each invited
    once per round, so a re-run after a crash invites only those not reached."""
    segment = Segment.objects.filter(pk=job.params.get("segment")).first()
    unit = BusinessUnit.objects.filter(pk=job.params.get("unit")).first()
    if segment is None or unit is None or job.started_by is None:
        raise JobInputError(gettext("The segment or the unit no longer exists."))
    ids = list(
        current_members(job.started_by, segment).order_by("customer_id").values_list("customer_id", flat=True)
    )
    progress.set_total(len(ids))
    invited = 0
    for start in range(0, len(ids), 500):
        customers = Customer.objects.filter(pk__in=ids[start : start + 500]).order_by("pk")
        invited += service.send_nps(
            unit,
            customers,
            actor=job.started_by,
            round_name=job.params.get("round", ""),
            progress=progress.advance,
        )
    return {"invited": invited}


@job_kind(
    REFRESH_KIND,
    label=_("Refresh segment membership"),
    counts={"segments": _("Segments"), "entered": _("Members entered"), "exited": _("Members exited")},
)
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


def refresh_changed() -> None:
    """Every minute: membership follows the customers whose orders, events or tags changed, without
    waiting for the full refresh (see guanxi/config/schedules.py). Plain, not a Job: most runs find
    nothing to do and would only fill the job list."""
    refresh_changed_customers()
