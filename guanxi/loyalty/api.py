"""Loyalty endpoints: programmes (settings, earn rule versions, tiers), members and their ledger,
adjustments and redemptions, the liability report, coupon templates, code pools, issue and redeem."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from guanxi.accounts.models import BusinessUnit
from guanxi.api.errors import ApiError
from guanxi.api.pagination import CursorParams, paginate
from guanxi.commerce.models import Order
from guanxi.core.access import require
from guanxi.core.schemas import JobOut
from guanxi.customers.models import Customer
from guanxi.loyalty import actions, fetch, jobs, ledger
from guanxi.loyalty.ledger import LedgerError
from guanxi.loyalty.models import CouponTemplate, EarnRule, Membership, Movement, Programme, Tier
from guanxi.loyalty.schemas import CustomerMembershipOut

router = Router(tags=["loyalty"])
SYNC_ISSUE_LIMIT = 1000


class EarnRuleOut(Schema):
    id: int
    effective_from: datetime
    points_per_yuan: Decimal
    rounding: EarnRule.Rounding
    on_status: EarnRule.OnStatus
    delay_days: int
    max_points_per_order: int | None
    category_multipliers: dict[str, Any]
    store_multipliers: dict[str, Any]


class TierOut(Schema):
    id: int
    rank: int
    name: str
    min_spend: Decimal
    min_orders: int
    min_points: int
    match: Tier.Match
    discount_percent: Decimal
    free_shipping: bool
    birthday_points: int
    points_multiplier: Decimal
    exclusive_coupon_id: int | None


class ProgrammeOut(Schema):
    id: int
    unit_id: int
    name: str
    points_name: str
    point_value: Decimal
    currency: str
    expiry: Programme.Expiry
    expiry_months: int
    qualifying_days: int
    review_months: int
    grace_days: int
    rules: list[EarnRuleOut]
    tiers: list[TierOut]


class ProgrammeIn(Schema):
    unit: int
    name: str = Field(min_length=1, max_length=100)


class ProgrammePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    points_name: str | None = Field(None, min_length=1, max_length=20)
    point_value: Decimal | None = Field(None, ge=0)
    currency: str | None = Field(None, min_length=3, max_length=3)
    expiry: Programme.Expiry | None = None
    expiry_months: int | None = None
    qualifying_days: int | None = None
    review_months: int | None = None
    grace_days: int | None = None


class EarnRuleIn(Schema):
    effective_from: datetime | None = Field(None, description="Now when omitted; never in the past.")
    points_per_yuan: Decimal = Field(Decimal(1), ge=0)
    rounding: EarnRule.Rounding = EarnRule.Rounding.FLOOR
    on_status: EarnRule.OnStatus = EarnRule.OnStatus.PAID
    delay_days: int = Field(0, ge=0, le=90)
    max_points_per_order: int | None = Field(None, ge=0)
    category_multipliers: dict[str, Decimal] = Field(default_factory=dict)
    store_multipliers: dict[str, Decimal] = Field(default_factory=dict)


class TierIn(Schema):
    rank: int = Field(ge=0, le=20)
    name: str = Field(min_length=1, max_length=50)
    min_spend: Decimal = Field(Decimal(0), ge=0)
    min_orders: int = Field(0, ge=0)
    min_points: int = Field(0, ge=0)
    match: Tier.Match = Tier.Match.ANY
    discount_percent: Decimal = Field(Decimal(0), ge=0, le=100)
    free_shipping: bool = False
    birthday_points: int = Field(0, ge=0)
    points_multiplier: Decimal = Field(Decimal(1), ge=0)


class MemberOut(Schema):
    id: int
    programme_id: int
    customer_id: int
    tier: str
    tier_rank: int
    tier_since: datetime
    review_at: datetime
    grace_until: datetime | None
    joined_at: datetime
    points: int


class MemberPage(Schema):
    items: list[MemberOut]
    next_cursor: str | None


class MemberParams(CursorParams):
    programme: int | None = None
    tier: int | None = None
    min_points: int | None = None
    max_points: int | None = None


class EnrolIn(Schema):
    customer: int
    via: Membership.Via = Membership.Via.APPLICATION


class ReferralIn(Schema):
    referee: int = Field(description="The referred friend's customer id")
    code: str = Field(description="The referrer's referral code, as the friend gave it")
    device: str = Field("", description="The device the friend joined from, for the fraud rules")


class ReferralOut(Schema):
    id: int
    programme_id: int
    referrer_id: int
    referee_id: int
    state: str
    created_at: datetime


class MovementOut(Schema):
    id: int
    kind: Movement.Kind
    points: int
    occurred_at: datetime
    order_id: int | None
    reason: str


class MovementPage(Schema):
    items: list[MovementOut]
    next_cursor: str | None


class AdjustIn(Schema):
    points: int = Field(description="Positive to credit, negative to deduct.")
    reason: str = Field(min_length=1, max_length=200)


class RedeemIn(Schema):
    points: int = Field(gt=0)
    key: str = Field(
        "", max_length=100, description="Your idempotency key: a repeat returns the first redemption."
    )
    reason: str = Field("", max_length=200)


class BalanceOut(Schema):
    movement_id: int
    points: int
    debt: int


class LiabilityMonth(Schema):
    month: str
    points: int
    value: Decimal


class LiabilityOut(Schema):
    programme_id: int
    unit_id: int
    points: int
    value: Decimal
    never_expiring: int
    by_expiry_month: list[LiabilityMonth]


class CouponTemplateOut(Schema):
    id: int
    programme_id: int
    name: str
    kind: CouponTemplate.Kind
    min_spend: Decimal
    amount_off: Decimal
    percent_off: Decimal
    buy_quantity: int
    free_quantity: int
    cashback_points: int
    categories: list[str]
    stackable: bool
    valid_from: datetime | None
    valid_until: datetime | None
    valid_days: int | None
    active: bool
    available: int = 0
    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    discount: Decimal = Decimal(0)


class CouponTemplateIn(Schema):
    programme: int
    name: str = Field(min_length=1, max_length=100)
    kind: CouponTemplate.Kind
    min_spend: Decimal = Field(Decimal(0), ge=0)
    amount_off: Decimal = Field(Decimal(0), ge=0)
    percent_off: Decimal = Field(Decimal(0), ge=0, le=100)
    buy_quantity: int = Field(0, ge=0)
    free_quantity: int = Field(0, ge=0)
    cashback_points: int = Field(0, ge=0)
    categories: list[str] = Field(default_factory=list)
    stackable: bool = False
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: int | None = Field(None, ge=1)


class CodesIn(Schema):
    count: int = Field(0, ge=0, le=5_000_000, description="How many new random codes to add.")
    codes: list[str] = Field(
        default_factory=list, max_length=100_000, description="Or the platform's own codes."
    )


class CodesOut(Schema):
    added: int


class IssueIn(Schema):
    customers: list[int] = Field(min_length=1, max_length=100_000)


class IssuedCode(Schema):
    customer_id: int
    code: str
    expires_at: datetime | None


class IssueOut(Schema):
    codes: list[IssuedCode] = Field(description=f"The codes, when at most {SYNC_ISSUE_LIMIT} were asked for.")
    job: JobOut | None = Field(None, description="The background job issuing them, for more.")


class RedeemCouponIn(Schema):
    code: str = Field(min_length=1, max_length=40)
    order: int


class RedeemCouponOut(Schema):
    redeemed: bool
    discount: Decimal


def _invalid(error: ValidationError) -> ApiError:
    return ApiError(422, " ".join(error.messages))


def _programme_out(programme: Programme) -> dict:
    return {
        **{
            name: getattr(programme, name)
            for name in ProgrammeOut.model_fields
            if name not in ("rules", "tiers")
        },
        "rules": list(EarnRule.objects.filter(programme=programme).order_by("-effective_from")),
        "tiers": list(Tier.objects.filter(programme=programme).order_by("rank")),
    }


@router.get(
    "/loyalty/programmes",
    response=list[ProgrammeOut],
    summary="Programmes, their earn rule versions and tiers",
)
def list_programmes(request):
    return [_programme_out(p) for p in fetch.programmes(request.user)]


@router.post(
    "/loyalty/programmes", response={201: ProgrammeOut}, summary="Start a unit's programme (default ladder)"
)
def create_programme(request, payload: ProgrammeIn):
    user = require(request, "loyalty.add")
    unit = BusinessUnit.objects.restrict(user, "view").filter(pk=payload.unit).first()
    if unit is None:
        raise ApiError(404, _("No such business unit, or you may not see it."))
    try:
        programme = actions.create_programme(unit=unit, name=payload.name, actor=user)
    except ValidationError as error:
        raise _invalid(error) from None
    return Status(201, _programme_out(programme))


@router.get("/loyalty/programmes/{programme_id}", response=ProgrammeOut, summary="One programme")
def get_programme(request, programme_id: int):
    return _programme_out(fetch.programme_by_id(request.user, programme_id))


@router.patch(
    "/loyalty/programmes/{programme_id}", response=ProgrammeOut, summary="Change a programme's settings"
)
def update_programme(request, programme_id: int, payload: ProgrammePatch):
    user = require(request, "loyalty.change")
    programme = fetch.programme_by_id(user, programme_id, "change")
    try:
        actions.update_programme(programme, actor=user, **payload.model_dump(exclude_none=True))
    except ValidationError as error:
        raise _invalid(error) from None
    programme.refresh_from_db()
    return _programme_out(programme)


@router.post(
    "/loyalty/programmes/{programme_id}/rules",
    response={201: EarnRuleOut},
    summary="Add a version of the earn rule from its effective time",
)
def add_rule(request, programme_id: int, payload: EarnRuleIn):
    user = require(request, "loyalty.change")
    programme = fetch.programme_by_id(user, programme_id, "change")
    values = payload.model_dump()
    values["category_multipliers"] = {k: str(v) for k, v in payload.category_multipliers.items()}
    values["store_multipliers"] = {k: str(v) for k, v in payload.store_multipliers.items()}
    try:
        rule = actions.add_rule_version(programme, actor=user, **values)
    except ValidationError as error:
        raise _invalid(error) from None
    return Status(201, rule)


@router.post(
    "/loyalty/programmes/{programme_id}/tiers",
    response=TierOut,
    summary="Create or change the tier at a rank",
)
def save_tier(request, programme_id: int, payload: TierIn):
    user = require(request, "loyalty.change")
    programme = fetch.programme_by_id(user, programme_id, "change")
    values = payload.model_dump()
    rank = values.pop("rank")
    if rank > Tier.objects.filter(programme=programme).count():
        raise ApiError(422, _("Add tiers one rank above the top one."))
    try:
        return actions.save_tier(programme, actor=user, rank=rank, **values)
    except ValidationError as error:
        raise _invalid(error) from None


@router.post(
    "/loyalty/programmes/{programme_id}/members", response={201: MemberOut}, summary="Enrol a customer"
)
def enrol(request, programme_id: int, payload: EnrolIn):
    user = require(request, "loyalty.change")
    programme = fetch.programme_by_id(user, programme_id, "change")
    customer = Customer.objects.restrict(user, "view").filter(pk=payload.customer).first()
    if customer is None:
        raise ApiError(404, _("No such customer, or you may not see them."))
    membership = actions.enrol(programme, customer, actor=user, via=payload.via)
    return Status(201, _member_out(membership, ledger.balance(programme.pk, customer.pk)))


@router.post(
    "/loyalty/programmes/{programme_id}/referrals",
    response={201: ReferralOut},
    summary="Record a friend referred by a member's code (422: unknown code, self, already referred)",
)
def record_referral(request, programme_id: int, payload: ReferralIn):
    user = require(request, "loyalty.change")
    programme = fetch.programme_by_id(user, programme_id, "change")
    customer = Customer.objects.restrict(user, "view").filter(pk=payload.referee).first()
    if customer is None:
        raise ApiError(404, _("No such customer, or you may not see them."))
    try:
        referral = actions.record_referral(
            programme, customer, payload.code, device=payload.device, actor=user
        )
    except ValidationError as error:
        raise _invalid(error) from None
    return Status(201, referral)


def _member_out(m: Membership, points: int) -> dict:
    return {
        "id": m.pk,
        "programme_id": m.programme_id,
        "customer_id": m.customer_id,
        "tier": m.tier.name,
        "tier_rank": m.tier.rank,
        "tier_since": m.tier_since,
        "review_at": m.review_at,
        "grace_until": m.grace_until,
        "joined_at": m.joined_at,
        "points": points,
    }


@router.get("/loyalty/members", response=MemberPage, summary="Members with their tier and points, filtered")
def list_members(request, params: Query[MemberParams]):
    filters = {
        name: "" if getattr(params, name) is None else str(getattr(params, name))
        for name in ("programme", "tier", "min_points", "max_points")
    }
    page = paginate(fetch.members(request.user, filters), params, sort_field="id", descending=True)
    return {"items": [_member_out(m, m.balance) for m in page.items], "next_cursor": page.next_cursor}


@router.get("/loyalty/members/{membership_id}", response=MemberOut, summary="One member")
def get_member(request, membership_id: int):
    m = fetch.membership_by_id(request.user, membership_id)
    return _member_out(m, ledger.balance(m.programme_id, m.customer_id))


@router.get(
    "/loyalty/members/{membership_id}/ledger",
    response=MovementPage,
    summary="A member's points movements, newest first",
)
def member_ledger(request, membership_id: int, params: Query[CursorParams]):
    m = fetch.membership_by_id(request.user, membership_id)
    rows = Movement.objects.restrict(request.user, "view").filter(
        programme_id=m.programme_id, customer_id=m.customer_id
    )
    page = paginate(rows, params, sort_field="id", descending=True)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post(
    "/loyalty/members/{membership_id}/adjust",
    response={201: BalanceOut},
    summary="Adjust points, with a reason",
)
def adjust(request, membership_id: int, payload: AdjustIn):
    user = require(request, "loyalty.change")
    m = fetch.membership_by_id(user, membership_id, "change")
    try:
        movement = actions.adjust_points(
            m.programme, m.customer, payload.points, reason=payload.reason, actor=user
        )
    except ValidationError as error:
        raise _invalid(error) from None
    return Status(201, _balance_out(m, movement))


def _balance_out(m: Membership, movement: Movement) -> dict:
    return {
        "movement_id": movement.pk,
        "points": ledger.balance(m.programme_id, m.customer_id),
        "debt": ledger.debt(m.programme_id, m.customer_id),
    }


@router.post(
    "/loyalty/members/{membership_id}/redeem",
    response={201: BalanceOut},
    summary="Redeem points (409 when the balance is short)",
)
def redeem(request, membership_id: int, payload: RedeemIn):
    user = require(request, "loyalty.change")
    m = fetch.membership_by_id(user, membership_id, "change")
    try:
        movement = actions.redeem_points(
            m.programme, m.customer, payload.points, key=payload.key, reason=payload.reason, actor=user
        )
    except LedgerError:
        raise ApiError(409, _("Not enough points.")) from None
    except ValidationError as error:
        raise _invalid(error) from None
    return Status(201, _balance_out(m, movement))


@router.get(
    "/loyalty/liability",
    response=list[LiabilityOut],
    summary="Outstanding points and their value, by expiry month",
)
def liability(request):
    return [
        {
            "programme_id": r.programme.pk,
            "unit_id": r.programme.unit_id,
            "points": r.points,
            "value": r.value,
            "never_expiring": r.never,
            "by_expiry_month": [{"month": m, "points": p, "value": v} for m, p, v in r.by_month],
        }
        for r in fetch.liability(request.user)
    ]


@router.get(
    "/loyalty/customers/{customer_id}",
    response=list[CustomerMembershipOut],
    summary="A customer's memberships",
)
def customer_memberships(request, customer_id: int):
    from guanxi.loyalty.customer_parts import loyalty_for_api

    customer = Customer.objects.restrict(request.user, "view").filter(pk=customer_id).first()
    if customer is None:
        raise ApiError(404, _("No such customer, or you may not see them."))
    return loyalty_for_api(request.user, customer)


def _template_out(row: dict) -> dict:
    template = row["template"]
    return {
        **{
            name: getattr(template, name)
            for name in CouponTemplateOut.model_fields
            if hasattr(template, name)
        },
        **{k: row[k] for k in ("available", "issued", "redeemed", "expired")},
        "discount": row["discount"] or Decimal(0),
    }


@router.get(
    "/loyalty/coupon-templates", response=list[CouponTemplateOut], summary="Coupon templates with their pools"
)
def list_coupon_templates(request):
    return [_template_out(row) for row in fetch.coupon_report(request.user)]


@router.post(
    "/loyalty/coupon-templates", response={201: CouponTemplateOut}, summary="Create a coupon template"
)
def create_coupon_template(request, payload: CouponTemplateIn):
    user = require(request, "loyalty.add")
    programme = fetch.programme_by_id(user, payload.programme, "add")
    values = payload.model_dump(exclude={"programme"})
    try:
        template = actions.save_coupon_template(programme, actor=user, **values)
    except ValidationError as error:
        raise _invalid(error) from None
    return Status(
        201,
        _template_out(
            {
                "template": template,
                "available": 0,
                "issued": 0,
                "redeemed": 0,
                "expired": 0,
                "discount": Decimal(0),
            }
        ),
    )


@router.post(
    "/loyalty/coupon-templates/{template_id}/codes",
    response={201: CodesOut},
    summary="Add random single-use codes, or import the platform's codes, to the pool",
)
def add_codes(request, template_id: int, payload: CodesIn):
    user = require(request, "loyalty.change")
    template = fetch.template_by_id(user, template_id, "change")
    if bool(payload.count) == bool(payload.codes):
        raise ApiError(422, _("Give either a count of codes to generate or a list of codes."))
    try:
        if payload.count:
            added = actions.generate_coupon_codes(template, payload.count, actor=user)
        else:
            added = actions.import_coupon_codes(template, payload.codes, actor=user)
    except ValidationError as error:
        raise _invalid(error) from None
    return Status(201, {"added": added})


@router.post(
    "/loyalty/coupon-templates/{template_id}/issue",
    response={200: IssueOut, 202: IssueOut},
    summary="Issue a code to each member (a background job above 1,000)",
)
def issue(request, template_id: int, payload: IssueIn):
    user = require(request, "loyalty.change")
    template = fetch.template_by_id(user, template_id, "change")
    visible = list(
        Membership.objects.restrict(user, "view")
        .filter(programme=template.programme, customer_id__in=payload.customers)
        .values_list("customer_id", flat=True)
    )
    if len(set(visible)) != len(set(payload.customers)):
        raise ApiError(422, _("Some of these customers are not members of the programme you may see."))
    if len(visible) > SYNC_ISSUE_LIMIT:
        job = jobs.start_issue(template, sorted(visible), actor=user)
        return Status(202, {"codes": [], "job": job})
    try:
        codes = actions.issue_coupons(template, payload.customers, actor=user)
    except ValidationError as error:
        raise _invalid(error) from None
    return Status(
        200,
        {
            "codes": [
                {"customer_id": c.customer_id, "code": c.code, "expires_at": c.expires_at} for c in codes
            ],
            "job": None,
        },
    )


@router.post(
    "/loyalty/coupons/redeem", response=RedeemCouponOut, summary="Redeem a coupon code on an order, once"
)
def redeem_coupon(request, payload: RedeemCouponIn):
    user = require(request, "loyalty.change")
    order = Order.objects.restrict(user, "view").filter(pk=payload.order).first()
    if order is None:
        raise ApiError(404, _("No such order, or you may not see it."))
    code = fetch.coupon_by_code(user, payload.code, "change")
    if code is None:
        raise ApiError(404, _("No such coupon code."))
    done = actions.redeem_coupon(code.code, order)
    code.refresh_from_db()
    return {"redeemed": done, "discount": code.discount if done else Decimal(0)}
