"""Loyalty work off the request: issuing a coupon to a segment as a job with progress, and the
periodic passes (scheduled in guanxi/config/schedules.py): following the customer change feed,
earning on orders whose return window ended, expiring points and coupons, reviewing tiers."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.background import JobInputError, Progress, job_kind, start_job
from guanxi.core.models import Job
from guanxi.loyalty import actions, coupons, earning, tiers
from guanxi.loyalty.models import CouponCode, CouponTemplate, Membership, Programme

ISSUE_KIND = "loyalty.issue_coupons"


@job_kind(ISSUE_KIND, label=_("Issue coupons"), counts={"issued": _("Coupons issued")})
def issue_coupons_job(job: Job, progress: Progress) -> dict:
    """params: {"template": id, "customer_ids": [...], "key": the caller's idempotency key or ""}."""
    template = (
        CouponTemplate.objects.select_related("programme__unit").filter(pk=job.params.get("template")).first()
    )
    if template is None:
        raise JobInputError("The coupon template of this job no longer exists.")
    ids = [int(pk) for pk in job.params.get("customer_ids", [])]
    progress.set_total(len(ids))
    # Keyed by the job: a job run again after a worker died issues nothing twice.
    key = job.params.get("key") or f"job:{job.pk}"
    before = CouponCode.objects.filter(issue_key=key).count()
    actions.issue_coupons(
        template,
        ids,
        actor=job.started_by,
        progress=lambda n: progress.advance(n),
        key=key,
    )
    return {"issued": CouponCode.objects.filter(issue_key=key).count() - before}


def start_issue(template: CouponTemplate, customer_ids: list[int], *, actor, key: str = "") -> Job:
    return start_job(
        ISSUE_KIND,
        params={"template": template.pk, "customer_ids": customer_ids, "key": key},
        started_by=actor,
        unit=template.programme.unit,
    )


def follow_changes() -> None:
    """Scheduled: earn, reverse and re-tier the customers whose orders or returns changed."""
    earning.follow_changes()


def daily() -> None:
    """Scheduled: earn on orders whose return window ended, expire points and coupons, grant birthday
    points, review tiers."""
    earning.earn_due()
    actions.expire_points()
    coupons.expire_codes()
    actions.grant_birthday_points()
    actions.review_tiers()


RECALC_KIND = "loyalty.recalc"


@job_kind(
    RECALC_KIND,
    label=_("Recalculate loyalty tiers and balances"),
    counts={"members": _("Members"), "lots_fixed": _("Lots corrected"), "tier_changes": _("Tier changes")},
)
def recalc_job(job: Job, progress: Progress) -> dict:
    """params: {"unit": id or None}: every programme (of the unit) re-derived from its ledger."""
    programmes = Programme.objects.select_related("unit").order_by("pk")
    if job.params.get("unit"):
        programmes = programmes.filter(unit_id=job.params["unit"])
    progress.set_total(Membership.objects.filter(programme__in=programmes).count())
    totals = {"members": 0, "lots_fixed": 0, "tier_changes": 0}
    for programme in programmes:
        result = actions.recalc(programme, progress=lambda n: progress.advance(n))
        totals["lots_fixed"] += result["lots_fixed"]
        totals["tier_changes"] += result["tier_changes"]
        totals["members"] += Membership.objects.filter(programme=programme).count()
    return totals


BACKFILL_KIND = "loyalty.backfill"


@job_kind(
    BACKFILL_KIND,
    label=_("Earn points on the order history"),
    counts={
        "earned": _("Orders that earned"),
        "members": _("Members joined"),
        "tier_changes": _("Tier changes"),
    },
)
def backfill_job(job: Job, progress: Progress) -> dict:
    """params: {"unit": id or None, "workers": n}: each programme (of the unit) earns on every due order
    of its history that has not earned yet (`earning.backfill`), then its tiers are re-derived. Run
    again, it earns nothing twice."""
    now = timezone.now()
    programmes = list(Programme.objects.select_related("unit").order_by("pk"))
    if job.params.get("unit"):
        programmes = [p for p in programmes if p.unit_id == job.params["unit"]]
    spans = [earning.history_span(programme, now) for programme in programmes]
    progress.set_total(sum(high + 1 - low for low, high in filter(None, spans)))
    totals = {"earned": 0, "members": 0, "tier_changes": 0}
    for programme in programmes:
        result = earning.backfill(
            programme, now, workers=int(job.params.get("workers") or 1), progress=progress.advance
        )
        totals["earned"] += result.movements
        totals["members"] += result.members
        totals["tier_changes"] += tiers.recalculate(programme, now)
    return totals
