"""Every write of marketing: flows (draft steps, published versions, switched on and off) and
campaigns (saved, approved, sent). Audited; the engine's own work is recorded as rows instead."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core import audit
from guanxi.core.display import Phrase
from guanxi.core.models import AuditEntry
from guanxi.marketing import campaigns as sending
from guanxi.marketing import steps
from guanxi.marketing.models import Campaign, Flow, FlowVersion, MarketingSettings
from guanxi.marketing.phrases import (
    CAMPAIGN_APPROVED,
    CAMPAIGN_SAVED,
    CAMPAIGN_SENT,
    CAMPAIGN_SUBMITTED,
    FLOW_DRAFTED,
    FLOW_PAUSED,
    FLOW_PUBLISHED,
    FLOW_SAVED,
    FLOW_SWITCHED_ON,
    SETTINGS_SAVED,
)

PUBLISH = "marketing.publish"
STATUS_PHRASES: dict[str, Phrase] = {"active": FLOW_SWITCHED_ON, "paused": FLOW_PAUSED}
FLOW_FIELDS = ("name", "description", "reentry", "holdout_percent", "key", "attribution_days", "message_cost")


def _check_percent(value: Any, field: str) -> Decimal:
    number = Decimal(str(value))
    if not Decimal(0) <= number <= Decimal(90):
        raise ValidationError({field: _("Give a share between 0 and 90 percent.")})
    return number


@transaction.atomic
def save_flow(*, unit: Any, actor: Any = None, flow: Flow | None = None, **values: Any) -> Flow:
    flow = flow or Flow(unit=unit)
    for name, value in values.items():
        if name not in FLOW_FIELDS:
            raise ValueError(f"not a flow field: {name}")
        setattr(flow, name, value)
    flow.holdout_percent = _check_percent(flow.holdout_percent, "holdout_percent")
    if not flow.name.strip():
        raise ValidationError({"name": _("Give the flow a name.")})
    flow.updated_at = timezone.now()
    flow.save()
    audit.record(AuditEntry.Action.UPDATE, actor=actor, obj=flow, unit=flow.unit, message=FLOW_SAVED())
    return flow


@transaction.atomic
def save_settings(*, unit: Any, global_holdout_percent: Any, actor: Any = None) -> MarketingSettings:
    """Set the unit's global holdout: from now on its share of customers is enrolled in flows and
    assigned in campaigns as holdout (enrolments and recipients already written stay as they are)."""
    percent = _check_percent(global_holdout_percent, "global_holdout_percent")
    settings, _created = MarketingSettings.objects.update_or_create(
        unit=unit, defaults={"global_holdout_percent": percent, "updated_at": timezone.now()}
    )
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=settings,
        unit=unit,
        message=SETTINGS_SAVED(percent=str(percent)),
    )
    return settings


def draft_of(flow: Flow) -> dict[str, Any]:
    """The definition being edited: the newest version's if it is not published, else a copy."""
    newest = flow.versions.order_by("-number").first()
    return dict(newest.definition) if newest else {"trigger": {}, "steps": [], "exit": []}


@transaction.atomic
def save_draft(flow: Flow, definition: dict[str, Any], *, actor: Any = None) -> FlowVersion:
    """Keep an edited definition as the unpublished newest version (a published one is never changed)."""
    newest = flow.versions.select_for_update().order_by("-number").first()
    if newest is not None and newest.published_at is None:
        newest.definition = definition
        newest.save(update_fields=["definition"])
        return newest
    number = (newest.number if newest else 0) + 1
    return FlowVersion.objects.create(
        flow=flow, number=number, definition=definition, created_by=_user(actor)
    )


@transaction.atomic
def publish(flow: Flow, definition: dict[str, Any] | None = None, *, actor: Any = None) -> FlowVersion:
    """Publish the draft (or `definition`) as the flow's current version. Enrolments in flight keep
    the version they entered on; new ones take this one."""
    if definition is not None:
        version = save_draft(flow, definition, actor=actor)
    else:
        newest = flow.versions.select_for_update().order_by("-number").first()
        if newest is None:
            raise ValidationError({"steps": _("A flow needs at least one step.")})
        version = newest
    if version.published_at is not None and flow.current_version_id == version.pk:
        return version
    steps.validate(version.definition)
    version.published_at = timezone.now()
    version.save(update_fields=["published_at"])
    Flow.objects.filter(pk=flow.pk).update(current_version=version, updated_at=timezone.now())
    flow.current_version = version
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=flow,
        unit=flow.unit,
        message=FLOW_PUBLISHED(version=version.number),
    )
    return version


@transaction.atomic
def set_status(flow: Flow, status: str, *, actor: Any = None, now: datetime | None = None) -> Flow:
    """Switch a flow on (triggers from now on enrol) or pause it (no new enrolments; those in flight
    carry on)."""
    if status not in Flow.Status.values:
        raise ValidationError({"status": _("Unknown status.")})
    if status == Flow.Status.ACTIVE and flow.current_version_id is None:
        raise ValidationError({"status": _("Publish the flow before switching it on.")})
    if status == Flow.Status.ACTIVE and flow.status != Flow.Status.ACTIVE:
        flow.active_since = now or timezone.now()
    flow.status = status
    flow.updated_at = timezone.now()
    flow.save(update_fields=["status", "active_since", "updated_at"])
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=flow,
        unit=flow.unit,
        message=STATUS_PHRASES.get(str(status), FLOW_DRAFTED)(),
    )
    return flow


CAMPAIGN_FIELDS = (
    "name",
    "key",
    "segment",
    "channel",
    "template",
    "template_b",
    "coupon",
    "coupon_b",
    "holdout_percent",
    "b_percent",
    "significance",
    "attribution_days",
    "message_cost",
    "scheduled_at",
    "auto_send_winner",
    "test_percent",
)


@transaction.atomic
def save_campaign(
    *, unit: Any, actor: Any = None, campaign: Campaign | None = None, **values: Any
) -> Campaign:
    campaign = campaign or Campaign(unit=unit)
    if campaign.pk and campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.AWAITING_APPROVAL):
        raise ValidationError({"status": _("A campaign that is scheduled or sent cannot be changed.")})
    for name, value in values.items():
        if name not in CAMPAIGN_FIELDS:
            raise ValueError(f"not a campaign field: {name}")
        setattr(campaign, name, value)
    campaign.holdout_percent = _check_percent(campaign.holdout_percent, "holdout_percent")
    campaign.b_percent = Decimal(str(campaign.b_percent))
    if not Decimal(0) <= campaign.b_percent < Decimal(100):
        raise ValidationError({"b_percent": _("Give a share between 0 and 99 percent.")})
    if campaign.b_percent and not (campaign.template_b or campaign.coupon_b_id):
        raise ValidationError({"template_b": _("An A/B test needs a second template or coupon.")})
    if campaign.segment.unit_id not in (None, unit.pk):
        raise ValidationError({"segment": _("Choose a segment of this business unit.")})
    for field in ("coupon", "coupon_b"):
        coupon = getattr(campaign, field)
        if coupon is not None and coupon.programme.unit_id != unit.pk:
            raise ValidationError({field: _("Choose a coupon of this business unit.")})
    campaign.test_percent = Decimal(str(campaign.test_percent))
    if campaign.auto_send_winner and not (
        campaign.b_percent and Decimal(0) < campaign.test_percent < Decimal(100)
    ):
        raise ValidationError(
            {"test_percent": _("Sending the winner needs an A/B test on a share of 1 to 99 percent.")}
        )
    if not 0 < campaign.significance < 1:
        raise ValidationError({"significance": _("Give a significance level between 0 and 1.")})
    campaign.status = Campaign.Status.DRAFT
    campaign.save()
    audit.record(AuditEntry.Action.UPDATE, actor=actor, obj=campaign, unit=unit, message=CAMPAIGN_SAVED())
    return campaign


def may_publish(user: Any) -> bool:
    return user is None or bool(getattr(user, "has_permission", lambda _p: False)(PUBLISH))


@transaction.atomic
def submit(campaign: Campaign, *, actor: Any = None) -> Campaign:
    """Ask for approval (roles without publish permission) — or, for those with it, schedule."""
    if campaign.status != Campaign.Status.DRAFT:
        raise ValidationError({"status": _("Only a draft can be submitted.")})
    if may_publish(actor):
        return approve(campaign, actor=actor)
    campaign.status = Campaign.Status.AWAITING_APPROVAL
    campaign.save(update_fields=["status"])
    audit.record(
        AuditEntry.Action.UPDATE, actor=actor, obj=campaign, unit=campaign.unit, message=CAMPAIGN_SUBMITTED()
    )
    return campaign


@transaction.atomic
def approve(campaign: Campaign, *, actor: Any = None) -> Campaign:
    if not may_publish(actor):
        raise PermissionDenied
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.AWAITING_APPROVAL):
        raise ValidationError({"status": _("This campaign is not waiting for approval.")})
    campaign.status = Campaign.Status.SCHEDULED
    campaign.approved_by = _user(actor)
    if campaign.scheduled_at is None:
        campaign.scheduled_at = timezone.now()
    campaign.save(update_fields=["status", "approved_by", "scheduled_at"])
    audit.record(
        AuditEntry.Action.UPDATE, actor=actor, obj=campaign, unit=campaign.unit, message=CAMPAIGN_APPROVED()
    )
    return campaign


def send_campaign(campaign: Campaign, *, actor: Any = None, now: datetime | None = None) -> dict[str, int]:
    """Send a scheduled campaign now (the periodic pass calls it when its time comes); re-running it
    completes a half-done send and sends nothing twice."""
    if campaign.status not in (Campaign.Status.SCHEDULED, Campaign.Status.SENT):
        raise ValidationError({"status": _("Approve the campaign before sending it.")})
    counts = sending.send(campaign, now)
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=campaign,
        unit=campaign.unit,
        message=CAMPAIGN_SENT(**counts),
    )
    return counts


def next_version_number(flow: Flow) -> int:
    return (flow.versions.aggregate(top=Max("number"))["top"] or 0) + 1


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None
