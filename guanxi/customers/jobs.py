"""Customer work the background worker runs (see guanxi.core.background)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from guanxi.core.background import Progress, job_kind
from guanxi.core.models import Job
from guanxi.customers.merging.strong import resolve_strong_matches
from guanxi.customers.merging.suggestions import suggest_merges
from guanxi.customers.phrases import MERGES_DONE, SUGGESTIONS_FOUND


@job_kind(
    "customers.resolve_strong_matches",
    label=_("Merge customers sharing a strong identity"),
    counts={"merged": _("Customers merged")},
)
def resolve_strong(job: Job, progress: Progress) -> dict[str, Any]:
    """params: customer_ids (optional; all customers otherwise). Safe to re-run: merged customers are skipped."""
    records = resolve_strong_matches(job.params.get("customer_ids"), actor=job.started_by)
    progress.advance(len(records), message=MERGES_DONE(count=len(records)))
    return {"merged": len(records)}


@job_kind(
    "customers.suggest_merges",
    label=_("Look for duplicate customers"),
    counts={
        "created": _("New suggestions"),
        "updated": _("Suggestions updated"),
        "unchanged": _("Suggestions unchanged"),
    },
)
def suggest(job: Job, progress: Progress) -> dict[str, Any]:
    """params: customer_ids (optional). Safe to re-run: existing suggestions are refreshed, not duplicated."""
    counts = suggest_merges(job.params.get("customer_ids"))
    progress.advance(
        counts["created"] + counts["updated"], message=SUGGESTIONS_FOUND(count=counts["created"])
    )
    return counts
