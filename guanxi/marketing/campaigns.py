"""Sending a campaign: the segment's members at send time become recipients, each in a group chosen
by a stable hash (holdout, variant A or B); the treated get their coupon and their message, the
holdout gets nothing. Every part is keyed, so a re-run after a crash completes what is missing and
sends nothing twice: recipients are UNIQUE per campaign, a recipient's coupon is written on its row
in the transaction that issues it, and the messages' send key is the campaign and variant."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from guanxi.customers.models import Customer
from guanxi.marketing import holdout
from guanxi.marketing.models import Campaign, Recipient

BATCH = 1000


def audience_ids(campaign: Campaign) -> list[int]:
    """The segment's current members who are active customers of the campaign's unit."""
    from guanxi.segments.models import SegmentMembership

    members = SegmentMembership.objects.filter(segment=campaign.segment, exited_at__isnull=True).values(
        "customer_id"
    )
    return list(
        Customer.objects.filter(
            pk__in=members, status=Customer.Status.ACTIVE, unit_links__unit_id=campaign.unit_id
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )


def group_of(campaign: Campaign, customer_id: int, everywhere: Decimal = Decimal(0)) -> str:
    """Holdout (the campaign's own, or the unit's global holdout at `everywhere` %), else A or B."""
    salt = f"campaign:{campaign.pk}"
    if holdout.is_held_out(salt, customer_id, campaign.holdout_percent) or holdout.in_global_holdout(
        campaign.unit_id, customer_id, everywhere
    ):
        return Recipient.Group.HOLDOUT
    if campaign.auto_send_winner and not holdout.in_share(f"test:{salt}", customer_id, campaign.test_percent):
        return Recipient.Group.REST
    return holdout.variant(salt, customer_id, campaign.b_percent)


def assign(campaign: Campaign, customer_ids: Iterable[int]) -> int:
    """Write the recipients (existing rows stay as they are); how many rows the campaign has."""
    ids = list(customer_ids)
    everywhere = holdout.global_percent(campaign.unit_id)
    for start in range(0, len(ids), BATCH):
        Recipient.objects.bulk_create(
            [
                Recipient(campaign=campaign, customer_id=pk, group=group_of(campaign, pk, everywhere))
                for pk in ids[start : start + BATCH]
            ],
            ignore_conflicts=True,
        )
    return Recipient.objects.filter(campaign=campaign).count()


def deliver(campaign: Campaign, now: datetime, progress: Any = None) -> dict[str, int]:
    """Coupons, then messages, for the treated recipients that lack them."""
    from guanxi.loyalty import actions as loyalty
    from guanxi.messaging import actions as messaging

    counts = {"coupons": 0, "messages": 0}
    variants: dict[str, tuple[str, Any]] = {
        Recipient.Group.A: (campaign.template, campaign.coupon),
        Recipient.Group.B: (campaign.template_b or campaign.template, campaign.coupon_b or campaign.coupon),
    }
    sends = [(group, *variants[group]) for group in (Recipient.Group.A, Recipient.Group.B)]
    if campaign.winner_sent_at is not None:
        sends.append((Recipient.Group.REST, *variants[campaign.winner]))
    for group, template, coupon in sends:
        rows = Recipient.objects.filter(campaign=campaign, group=group)
        if coupon is not None:
            missing = list(rows.filter(coupon_code="").values_list("pk", "customer_id"))
            for start in range(0, len(missing), BATCH):
                with transaction.atomic():
                    # Locked and re-read: a concurrent run of the same campaign skips rows issued here.
                    chunk = list(
                        Recipient.objects.select_for_update()
                        .filter(
                            pk__in=[pk for pk, _customer in missing[start : start + BATCH]], coupon_code=""
                        )
                        .order_by("pk")
                        .values_list("pk", "customer_id")
                    )
                    if not chunk:
                        continue
                    codes = loyalty.issue_coupons(coupon, [customer for _pk, customer in chunk], now=now)
                    by_customer = {code.customer_id: code.code for code in codes}
                    for pk, customer in chunk:
                        Recipient.objects.filter(pk=pk).update(coupon_code=by_customer[customer])
                counts["coupons"] += len(chunk)
        ids = list(rows.values_list("customer_id", flat=True))
        if not ids:
            continue
        result = messaging.enqueue_many(
            unit=campaign.unit,
            customer_ids=ids,
            purpose="marketing",
            send_key=f"campaign:{campaign.pk}:{group}",
            template=template,
            channel=campaign.channel,
            context={"coupon_template": coupon.pk} if coupon is not None else {},
            source=f"campaign:{campaign.pk}",
            progress=progress,
        )
        counts["messages"] += result.created
    return counts


def send(campaign: Campaign, now: datetime | None = None, progress: Any = None) -> dict[str, int]:
    now = now or timezone.now()
    if campaign.sent_at is None:
        assign(campaign, audience_ids(campaign))
        Campaign.objects.filter(pk=campaign.pk, sent_at__isnull=True).update(sent_at=now)
        campaign.refresh_from_db()
    counts = deliver(campaign, now, progress)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENT)
    campaign.status = Campaign.Status.SENT
    return counts


def send_due(now: datetime | None = None) -> int:
    """Scheduled campaigns whose time has come (and sent ones a crash left half done)."""
    now = now or timezone.now()
    done = 0
    for campaign in Campaign.objects.filter(
        status=Campaign.Status.SCHEDULED, scheduled_at__lte=now
    ).select_related("unit", "segment", "coupon", "coupon_b"):
        send(campaign, now)
        done += 1
    return done


def send_winners(now: datetime | None = None) -> int:
    """Sent campaigns that hold the rest back for the winner: once the A/B test is significant, the
    rest get the winning variant (its template and coupon); how many campaigns did."""
    from guanxi.marketing import effect

    now = now or timezone.now()
    done = 0
    for campaign in Campaign.objects.filter(
        status=Campaign.Status.SENT, auto_send_winner=True, winner_sent_at__isnull=True
    ).select_related("unit", "segment", "coupon", "coupon_b"):
        result = effect.analyse(campaign)
        if result is None or not result.winner:
            continue
        if not Campaign.objects.filter(pk=campaign.pk, winner_sent_at__isnull=True).update(
            winner=result.winner, winner_sent_at=now
        ):
            continue  # another worker is sending it
        campaign.winner, campaign.winner_sent_at = result.winner, now
        deliver(campaign, now)
        done += 1
    return done
