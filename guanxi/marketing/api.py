"""Marketing endpoints: flows (definition versions, publish, switch on/off, counts), a customer's
enrolments, campaigns (create, submit/approve, effect with the holdout comparison and A/B test)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from guanxi.accounts.models import BusinessUnit
from guanxi.api.errors import ApiError
from guanxi.core.access import require
from guanxi.marketing import actions, effect, fetch
from guanxi.marketing.models import Campaign, Enrolment, Flow

router = Router(tags=["marketing"])


class FlowOut(Schema):
    id: int
    unit_id: int
    name: str
    key: str
    status: Flow.Status
    reentry: Flow.Reentry
    holdout_percent: Decimal
    version: int | None
    definition: dict[str, Any]
    in_progress: int
    completed: int
    exited: int
    held_out: int


class FlowIn(Schema):
    unit: int
    name: str = Field(min_length=1, max_length=120)
    holdout_percent: Decimal = Decimal(10)
    reentry: Flow.Reentry = Flow.Reentry.EVERY_TRIGGER


class DefinitionIn(Schema):
    definition: dict[str, Any]


class StatusIn(Schema):
    status: Flow.Status


class EnrolmentOut(Schema):
    id: int
    flow_id: int
    version: int
    customer_id: int
    trigger_key: str
    state: Enrolment.State
    step: str
    due_at: datetime | None
    variant: str
    entered_at: datetime
    finished_at: datetime | None
    exit_reason: str


class CampaignIn(Schema):
    unit: int
    name: str = Field(min_length=1, max_length=120)
    segment: int
    template: str = Field(min_length=1, max_length=64)
    channel: str = "best"
    coupon: int | None = None
    holdout_percent: Decimal = Decimal(10)
    template_b: str = ""
    b_percent: Decimal = Decimal(0)
    significance: Decimal = Decimal("0.05")
    attribution_days: int = Field(default=7, ge=1, le=90)
    scheduled_at: datetime | None = None


class CampaignOut(Schema):
    id: int
    unit_id: int
    name: str
    segment_id: int
    template: str
    template_b: str
    coupon_id: int | None
    channel: str
    holdout_percent: Decimal
    b_percent: Decimal
    significance: Decimal
    attribution_days: int
    status: Campaign.Status
    scheduled_at: datetime | None
    sent_at: datetime | None


class GroupOut(Schema):
    customers: int
    converted: int
    revenue: float


class EffectOut(Schema):
    treated: GroupOut
    holdout: GroupOut
    variant_a: GroupOut
    variant_b: GroupOut
    incremental_revenue: Decimal
    incremental_revenue_low: Decimal | None = Field(description="95 % normal interval (Welch)")
    incremental_revenue_high: Decimal | None
    incremental_conversions: float
    conversion_p_value: float = Field(description="Two-proportion z-test, treated against holdout")
    coupon_cost: Decimal
    message_cost: Decimal
    roi: Decimal | None
    last_touch_revenue: Decimal = Field(description="Everything the treated bought: overstates the effect")
    ab_p_value: float | None
    winner: str = Field(description='"a", "b" or "" (no winner at the campaign\'s significance)')


def _invalid(error: ValidationError) -> ApiError:
    return ApiError(422, " ".join(error.messages))


def _flow_out(flow: Any) -> dict:
    return {
        **{
            name: getattr(flow, name)
            for name in ("id", "unit_id", "name", "key", "status", "reentry", "holdout_percent")
        },
        "version": flow.current_version.number if flow.current_version else None,
        "definition": actions.draft_of(flow),
        "in_progress": flow.in_progress,
        "completed": flow.completed,
        "exited": flow.exited,
        "held_out": flow.held_out,
    }


def _flow(request, flow_id: int) -> Any:
    flow = fetch.flow(request.user, flow_id)
    if flow is None:
        raise ApiError(404, _("No such flow, or you may not see it."))
    return flow


def _unit(user: Any, pk: int) -> BusinessUnit:
    unit = BusinessUnit.objects.restrict(user, "view").filter(pk=pk).first()
    if unit is None:
        raise ApiError(404, _("No such business unit, or you may not see it."))
    return unit


@router.get(
    "/marketing/flows", response=list[FlowOut], summary="Flows with their draft definition and live counts"
)
def list_flows(request):
    return [_flow_out(f) for f in fetch.flows(request.user)]


@router.post("/marketing/flows", response={201: FlowOut}, summary="Create a flow (a draft without steps)")
def create_flow(request, payload: FlowIn):
    user = require(request, "marketing.add")
    try:
        flow = actions.save_flow(
            unit=_unit(user, payload.unit),
            actor=user,
            name=payload.name,
            holdout_percent=payload.holdout_percent,
            reentry=payload.reentry,
        )
    except ValidationError as error:
        raise _invalid(error) from None
    return Status(201, _flow_out(fetch.flow(user, flow.pk)))


@router.get("/marketing/flows/{flow_id}", response=FlowOut, summary="One flow")
def get_flow(request, flow_id: int):
    return _flow_out(_flow(request, flow_id))


@router.post(
    "/marketing/flows/{flow_id}/publish", response=FlowOut, summary="Publish a definition as a new version"
)
def publish_flow(request, flow_id: int, payload: DefinitionIn):
    user = require(request, "marketing.change")
    flow = _flow(request, flow_id)
    try:
        actions.publish(flow, payload.definition, actor=user)
    except ValidationError as error:
        raise _invalid(error) from None
    return _flow_out(_flow(request, flow_id))


@router.post("/marketing/flows/{flow_id}/status", response=FlowOut, summary="Switch a flow on or pause it")
def flow_status(request, flow_id: int, payload: StatusIn):
    user = require(request, "marketing.change")
    flow = _flow(request, flow_id)
    try:
        actions.set_status(flow, payload.status, actor=user)
    except ValidationError as error:
        raise _invalid(error) from None
    return _flow_out(_flow(request, flow_id))


@router.get(
    "/marketing/flows/{flow_id}/enrolments",
    response=list[EnrolmentOut],
    summary="The latest 200 enrolments of a flow",
)
def flow_enrolments(request, flow_id: int):
    flow = _flow(request, flow_id)
    rows = Enrolment.objects.restrict(request.user, "view").filter(flow=flow).select_related("version")
    return [_enrolment_out(e) for e in rows.order_by("-entered_at", "-pk")[:200]]


def _enrolment_out(e: Enrolment) -> dict:
    return {
        **{name: getattr(e, name) for name in EnrolmentOut.model_fields if name != "version"},
        "version": e.version.number,
    }


@router.get("/marketing/campaigns", response=list[CampaignOut], summary="Campaigns")
def list_campaigns(request):
    return list(fetch.campaigns(request.user))


@router.post("/marketing/campaigns", response={201: CampaignOut}, summary="Create a campaign (a draft)")
def create_campaign(request, payload: CampaignIn):
    from guanxi.loyalty.models import CouponTemplate
    from guanxi.segments.models import Segment

    user = require(request, "marketing.add")
    unit = _unit(user, payload.unit)
    segment = Segment.objects.restrict(user, "view").filter(pk=payload.segment).first()
    if segment is None:
        raise ApiError(404, _("No such segment, or you may not see it."))
    coupon = None
    if payload.coupon is not None:
        coupon = CouponTemplate.objects.restrict(user, "view").filter(pk=payload.coupon).first()
        if coupon is None:
            raise ApiError(404, _("No such coupon template, or you may not see it."))
    values = payload.dict(exclude={"unit", "segment", "coupon"})
    try:
        campaign = actions.save_campaign(unit=unit, actor=user, segment=segment, coupon=coupon, **values)
    except ValidationError as error:
        raise _invalid(error) from None
    return Status(201, campaign)


def _campaign(request, campaign_id: int) -> Campaign:
    campaign = fetch.campaign(request.user, campaign_id)
    if campaign is None:
        raise ApiError(404, _("No such campaign, or you may not see it."))
    return campaign


@router.get("/marketing/campaigns/{campaign_id}", response=CampaignOut, summary="One campaign")
def get_campaign(request, campaign_id: int):
    return _campaign(request, campaign_id)


@router.post(
    "/marketing/campaigns/{campaign_id}/submit",
    response=CampaignOut,
    summary="Submit for approval (scheduled at once for roles that may publish)",
)
def submit_campaign(request, campaign_id: int):
    user = require(request, "marketing.change")
    campaign = _campaign(request, campaign_id)
    try:
        return actions.submit(campaign, actor=user)
    except ValidationError as error:
        raise _invalid(error) from None


@router.post(
    "/marketing/campaigns/{campaign_id}/approve", response=CampaignOut, summary="Approve and schedule"
)
def approve_campaign(request, campaign_id: int):
    user = require(request, "marketing.publish")
    campaign = _campaign(request, campaign_id)
    try:
        return actions.approve(campaign, actor=user)
    except PermissionDenied:
        raise ApiError(403, _("You may not approve campaigns."), permission="marketing.publish") from None
    except ValidationError as error:
        raise _invalid(error) from None


def _group(figures: Any) -> dict:
    return {
        "customers": figures.customers,
        "converted": figures.converted,
        "revenue": round(figures.revenue, 2),
    }


@router.get(
    "/marketing/campaigns/{campaign_id}/effect",
    response=EffectOut,
    summary="Treated against holdout in the attribution window: incremental revenue, costs, ROI, A/B test",
)
def campaign_effect(request, campaign_id: int):
    result = effect.analyse(_campaign(request, campaign_id))
    if result is None:
        raise ApiError(409, _("The campaign has not been sent yet."))
    return {
        "treated": _group(result.treated),
        "holdout": _group(result.holdout),
        "variant_a": _group(result.a),
        "variant_b": _group(result.b),
        "incremental_revenue": result.incremental_revenue,
        "incremental_revenue_low": result.incremental_low,
        "incremental_revenue_high": result.incremental_high,
        "incremental_conversions": result.incremental_conversions,
        "conversion_p_value": result.conversion_test.p_value,
        "coupon_cost": result.coupon_cost,
        "message_cost": result.message_cost,
        "roi": result.roi,
        "last_touch_revenue": result.last_touch_revenue,
        "ab_p_value": result.ab_test.p_value if result.ab_test else None,
        "winner": result.winner,
    }
