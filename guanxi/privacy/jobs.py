"""Privacy work the background worker runs (see guanxi.core.background), and the nightly retention."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from guanxi.core.background import JobInputError, Progress, job_kind
from guanxi.core.models import Job
from guanxi.privacy import actions, retention
from guanxi.privacy.models import PrivacyRequest
from guanxi.privacy.phrases import ERASING, EXPORT_READING
from guanxi.privacy.subject import tables


def _request(job: Job) -> PrivacyRequest:
    item = PrivacyRequest.objects.filter(pk=job.params.get("request")).select_related("customer").first()
    if item is None or item.customer is None:
        raise JobInputError("The privacy request or its customer no longer exists.")
    return item


@job_kind(actions.EXPORT_JOB, label=_("Copy of a customer's data"), counts={"rows": _("Rows")})
def export(job: Job, progress: Progress) -> dict[str, Any]:
    """params: request. Safe to re-run: a new zip replaces the request's file."""
    item = _request(job)
    progress.set_total(len(tables()) + 1)  # and the audit entries

    def read(table: str, rows: int) -> None:
        progress.advance(1, message=EXPORT_READING(table=table), rows=rows)

    try:
        actions.perform_export(item, read)
    except Exception:
        PrivacyRequest.objects.filter(pk=item.pk).update(state=PrivacyRequest.State.FAILED)
        raise
    return {}


@job_kind(actions.ERASE_JOB, label=_("Erasure of a customer's personal data"), counts={"rows": _("Rows")})
def erase(job: Job, progress: Progress) -> dict[str, Any]:
    """params: request. Safe to re-run: erasing what is erased changes nothing."""
    item = _request(job)
    progress.advance(0, message=ERASING())
    try:
        counts = actions.perform_erasure(item, actor=job.started_by)
    except Exception:
        PrivacyRequest.objects.filter(pk=item.pk).update(state=PrivacyRequest.State.FAILED)
        raise
    return {"rows": sum(counts.values())}


def nightly_retention() -> None:
    """Scheduled: remove what is past its retention horizon."""
    retention.purge()
