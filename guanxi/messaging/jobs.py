"""Bulk sends as background jobs: a campaign step queues thousands of messages with progress."""

from datetime import datetime

from django.utils.translation import gettext_lazy as _

from guanxi.accounts.models import BusinessUnit
from guanxi.core.background import JobInputError, Progress, job_kind
from guanxi.core.models import Job
from guanxi.messaging.actions import enqueue_many

BULK_SEND = "messaging.bulk_send"


@job_kind(
    BULK_SEND,
    label=_("Queue messages"),
    counts={"created": _("Queued"), "existing": _("Already queued"), "dropped": _("Dropped")},
)
def bulk_send_job(job: Job, progress: Progress) -> dict:
    params = job.params
    unit = BusinessUnit.objects.filter(pk=params.get("unit")).first()
    if unit is None:
        raise JobInputError("The business unit of this send no longer exists.")
    customer_ids = [int(pk) for pk in params.get("customer_ids", [])]
    progress.set_total(len(customer_ids))
    scheduled = params.get("scheduled_at")
    result = enqueue_many(
        unit=unit,
        customer_ids=customer_ids,
        purpose=params["purpose"],
        send_key=params["send_key"],
        template=params["template"],
        channel=params.get("channel", "best"),
        context=params.get("context") or {},
        scheduled_at=datetime.fromisoformat(scheduled) if scheduled else None,
        source=params.get("source", ""),
        actor=job.started_by,
        progress=lambda done: progress.advance(done),
    )
    return {"created": result.created, "existing": result.existing, "dropped": result.dropped}
