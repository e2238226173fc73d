"""Every loyalty write: programmes, earn rule versions, tiers, enrolment, points adjustments,
redemptions and expiry, recalculation, and coupons. Each owns its transaction and writes the audit."""

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.commerce.models import Order
from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.customers.models import Customer
from guanxi.loyalty import coupons, ledger, tiers
from guanxi.loyalty.ledger import LedgerError
from guanxi.loyalty.models import (
    Account,
    CouponCode,
    CouponTemplate,
    EarnRule,
    Entry,
    Lot,
    Membership,
    Movement,
    Programme,
    Referral,
    Tier,
)
from guanxi.loyalty.phrases import (
    CODES_GENERATED,
    COUPON_TEMPLATE_SAVED,
    COUPONS_ISSUED,
    MEMBER_ENROLLED,
    POINTS_ADJUSTED,
    POINTS_EXPIRED,
    POINTS_REDEEMED,
    PROGRAMME_CHANGED,
    PROGRAMME_CREATED,
    REFERRAL_RECORDED,
    RULE_VERSION_ADDED,
    TIER_SAVED,
)

# The seeds' ladder (seed 000: 银卡、金卡、白金卡、钻石卡): spend in the window, the points multiplier
# and member discount of each; the merchant edits them on the tier page.
DEFAULT_LADDER = (
    ("银卡", Decimal(0), Decimal("1.00"), Decimal(0), False),
    ("金卡", Decimal(1000), Decimal("1.20"), Decimal(2), False),
    ("白金卡", Decimal(5000), Decimal("1.50"), Decimal(5), True),
    ("钻石卡", Decimal(20000), Decimal("2.00"), Decimal(8), True),
)
PROGRAMME_FIELDS = (
    "name",
    "points_name",
    "point_value",
    "currency",
    "expiry",
    "expiry_months",
    "qualifying_days",
    "review_months",
    "grace_days",
    "referrer_points",
    "referee_points",
)
TIER_FIELDS = (
    "name",
    "min_spend",
    "min_orders",
    "min_points",
    "match",
    "discount_percent",
    "free_shipping",
    "birthday_points",
    "points_multiplier",
    "exclusive_coupon",
)


# --- programmes, rules, tiers --------------------------------------------------------------------


@transaction.atomic
def create_programme(
    *, unit: Any, name: str, actor: Any = None, now: datetime | None = None, **fields: Any
) -> Programme:
    """A unit's programme with the default ladder and a first earn rule (1 point per yuan, rounded
    down, on payment) in force from now."""
    now = now or timezone.now()
    if Programme.objects.filter(unit=unit).exists():
        raise ValidationError({"unit": _("This business unit already runs a loyalty programme.")})
    programme = Programme(unit=unit, name=name, created_at=now, **fields)
    programme.full_clean()
    programme.save()
    for rank, (tier_name, spend, multiplier, discount, shipping) in enumerate(DEFAULT_LADDER):
        Tier.objects.create(
            programme=programme,
            rank=rank,
            name=tier_name,
            min_spend=spend,
            points_multiplier=multiplier,
            discount_percent=discount,
            free_shipping=shipping,
        )
    EarnRule.objects.create(programme=programme, effective_from=now, created_at=now, created_by=_user(actor))
    audit.record(AuditEntry.Action.CREATE, actor=actor, obj=programme, unit=unit, message=PROGRAMME_CREATED())
    return programme


@transaction.atomic
def update_programme(programme: Programme, *, actor: Any = None, **values: Any) -> Programme:
    before = {name: getattr(programme, name) for name in PROGRAMME_FIELDS}
    for name, value in values.items():
        if name not in PROGRAMME_FIELDS:
            raise ValueError(f"not a programme setting: {name}")
        setattr(programme, name, value)
    programme.full_clean()
    programme.save()
    changes = {
        name: (str(before[name]), str(getattr(programme, name)))
        for name in PROGRAMME_FIELDS
        if before[name] != getattr(programme, name)
    }
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=programme,
        unit=programme.unit,
        changes=changes,
        message=PROGRAMME_CHANGED(),
    )
    return programme


@transaction.atomic
def add_rule_version(
    programme: Programme,
    *,
    actor: Any = None,
    effective_from: datetime | None = None,
    now: datetime | None = None,
    **values: Any,
) -> EarnRule:
    """A new version of the earn rule, in force from `effective_from` (now if not given). It may not
    start in the past: orders paid before it keep the version they were paid under."""
    now = now or timezone.now()
    effective_from = effective_from or now
    if effective_from < now - timedelta(minutes=1):
        raise ValidationError({"effective_from": _("A rule change cannot apply to the past.")})
    _check_multipliers(values.get("category_multipliers"), "category_multipliers")
    _check_multipliers(values.get("store_multipliers"), "store_multipliers")
    if EarnRule.objects.filter(programme=programme, effective_from=effective_from).exists():
        raise ValidationError({"effective_from": _("A version already starts at this time.")})
    rule = EarnRule(
        programme=programme, effective_from=effective_from, created_at=now, created_by=_user(actor), **values
    )
    rule.full_clean()
    rule.save()
    audit.record(
        AuditEntry.Action.CREATE,
        actor=actor,
        obj=programme,
        unit=programme.unit,
        message=RULE_VERSION_ADDED(
            effective_from=timezone.localtime(effective_from).strftime("%Y-%m-%d %H:%M"),
            rate=str(rule.points_per_yuan.normalize()),
        ),
    )
    return rule


def _check_multipliers(value: Any, field: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValidationError({field: _("Give multipliers as a mapping of names to numbers.")})
    for key, multiplier in value.items():
        try:
            number = Decimal(str(multiplier))
        except ArithmeticError:
            number = Decimal(-1)
        if not key or number < 0 or number > 100:
            raise ValidationError({field: _("Each multiplier is a number from 0 to 100.")})


@transaction.atomic
def save_tier(programme: Programme, *, actor: Any = None, rank: int, **values: Any) -> Tier:
    """Create or change the tier at `rank`; the ladder must keep rising (each tier's conditions at
    least those of the tier below)."""
    tier = Tier.objects.filter(programme=programme, rank=rank).first() or Tier(programme=programme, rank=rank)
    for name, value in values.items():
        if name not in TIER_FIELDS:
            raise ValueError(f"not a tier field: {name}")
        setattr(tier, name, value)
    if tier.exclusive_coupon is not None and tier.exclusive_coupon.programme_id != programme.pk:
        raise ValidationError({"exclusive_coupon": _("Choose a coupon of this programme.")})
    tier.full_clean()
    below = Tier.objects.filter(programme=programme, rank__lt=rank).order_by("-rank").first()
    if (
        below is not None
        and (tier.min_spend, tier.min_orders, tier.min_points)
        < (
            below.min_spend,
            below.min_orders,
            below.min_points,
        )
        and rank > 0
    ):
        raise ValidationError({"min_spend": _("A tier must ask at least as much as the tier below it.")})
    tier.save()
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=tier,
        unit=programme.unit,
        message=TIER_SAVED(tier=tier.name),
    )
    return tier


# --- members and points --------------------------------------------------------------------------


def enrol(
    programme: Programme,
    customer: Any,
    *,
    actor: Any = None,
    via: str = Membership.Via.APPLICATION,
    now: datetime | None = None,
) -> Membership:
    now = now or timezone.now()
    with transaction.atomic():
        existing = Membership.objects.filter(programme=programme, customer=customer).exists()
        membership = ledger.locked_membership(programme, customer.pk, now, via=via)
        assert membership is not None
        if not existing:
            audit.record(
                AuditEntry.Action.CREATE,
                actor=actor,
                obj=customer,
                unit=programme.unit,
                message=MEMBER_ENROLLED(),
            )
            tiers.evaluate(membership, now)
    return membership


def adjust_points(
    programme: Programme,
    customer: Any,
    points: int,
    *,
    reason: str,
    actor: Any = None,
    now: datetime | None = None,
) -> Movement:
    """A manual credit (points > 0, opening a lot) or debit (< 0, oldest lots first) with a reason."""
    now = now or timezone.now()
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the points are adjusted.")})
    if points == 0:
        raise ValidationError({"points": _("Adjust by a number of points other than zero.")})
    with transaction.atomic():
        ledger.locked_membership(programme, customer.pk, now, via=Membership.Via.APPLICATION)
        key = f"adjust:{uuid4().hex}"
        if points > 0:
            sides = ledger.credit_sides(programme.pk, customer.pk, points, Account.ADJUSTED)
        else:
            lots = ledger.open_lots(programme.pk, customer.pk)
            if sum(lot.remaining for lot in lots) < -points:
                raise ValidationError({"points": _("The member has fewer points than that.")})
            sides = [ledger.Side(Account.ADJUSTED, -points), *ledger.take_fifo(lots, -points, customer.pk)]
        movement = ledger.post(
            programme=programme,
            customer_id=customer.pk,
            kind=Movement.Kind.ADJUST,
            key=key,
            sides=sides,
            occurred_at=now,
            points=points,
            expires_at=ledger.expiry_for(programme, now),
            reason=reason[:200],
            actor=_user(actor),
        )
        assert movement is not None
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=customer,
            unit=programme.unit,
            message=POINTS_ADJUSTED(points=points, reason=reason[:200]),
        )
    return movement


def redeem_points(
    programme: Programme,
    customer: Any,
    points: int,
    *,
    actor: Any = None,
    key: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> Movement:
    """Spend `points` of the member's balance (oldest lots first). Raises LedgerError("insufficient")
    when the balance is short. With `key`, a repeated request returns the first movement."""
    now = now or timezone.now()
    if points <= 0:
        raise ValidationError({"points": _("Redeem a positive number of points.")})
    with transaction.atomic():
        if not ledger.lock_member(programme.pk, customer.pk):
            raise LedgerError("insufficient", _("Not enough points."))
        full_key = f"redeem:{key}" if key else f"redeem:{uuid4().hex}"
        if key:
            done = Movement.objects.filter(programme=programme, key=full_key).first()
            if done is not None:
                return done
        held, lots = ledger.lots_to_take(programme.pk, customer.pk, points)
        if held < points:
            raise LedgerError("insufficient", _("Not enough points."))
        sides = [ledger.Side(Account.REDEEMED, points), *ledger.take_fifo(lots, points, customer.pk)]
        movement = ledger.post(
            programme=programme,
            customer_id=customer.pk,
            kind=Movement.Kind.REDEEM,
            key=full_key,
            sides=sides,
            occurred_at=now,
            points=-points,
            reason=reason[:200],
            actor=_user(actor),
        )
        assert movement is not None
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=customer,
            unit=programme.unit,
            message=POINTS_REDEEMED(points=points),
        )
    return movement


def expire_points(now: datetime | None = None, programme: Programme | None = None) -> int:
    """Expire what is left of every lot whose time has come (one movement per lot, keyed by it, so a
    re-run expires nothing twice); returns the points expired."""
    now = now or timezone.now()
    lots = Lot.objects.filter(remaining__gt=0, expires_at__lte=now)
    if programme is not None:
        lots = lots.filter(programme=programme)
    due = list(
        lots.values_list("programme_id", "customer_id").distinct().order_by("programme_id", "customer_id")
    )
    programmes = {
        p.pk: p for p in Programme.objects.select_related("unit").filter(pk__in={p for p, _ in due})
    }
    total = 0
    members: dict[int, set[int]] = {}
    totals: dict[int, int] = {}
    for programme_id, customer_id in due:
        with transaction.atomic():
            prog = programmes[programme_id]
            ledger.locked_membership(prog, customer_id, now, create=False)
            for lot in Lot.objects.filter(
                programme_id=programme_id, customer_id=customer_id, remaining__gt=0, expires_at__lte=now
            ).order_by("expires_at", "pk"):
                points = lot.remaining
                lot.remaining = 0
                ledger.post(
                    programme=prog,
                    customer_id=customer_id,
                    kind=Movement.Kind.EXPIRE,
                    key=f"expire:{lot.pk}",
                    sides=[
                        ledger.Side(Account.EXPIRED, points),
                        ledger.Side(Account.MEMBER, -points, customer_id, lot=lot),
                    ],
                    occurred_at=lot.expires_at or now,
                    points=-points,
                )
                total += points
                totals[programme_id] = totals.get(programme_id, 0) + points
                members.setdefault(programme_id, set()).add(customer_id)
    for programme_id, who in members.items():
        prog = programmes[programme_id]
        audit.record(
            AuditEntry.Action.UPDATE,
            obj=prog,
            unit=prog.unit,
            message=POINTS_EXPIRED(points=totals[programme_id], members=len(who)),
        )
    return total


def grant_birthday_points(now: datetime | None = None) -> int:
    """The daily birthday gift: every member whose birthday is today in their unit's time zone gets
    their tier's birthday points, once a year (keyed `birthday:<customer>:<year>`, so a re-run grants
    nothing twice). A 29 February birthday is kept on 28 February in other years. Returns how many
    members were credited."""
    now = now or timezone.now()
    granted = 0
    for programme in Programme.objects.select_related("unit").order_by("pk"):
        today = now.astimezone(ZoneInfo(programme.unit.time_zone)).date()
        days = [today.day]
        if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
            days.append(29)
        members = (
            Membership.objects.filter(
                programme=programme,
                tier__birthday_points__gt=0,
                customer__birthday__month=today.month,
                customer__birthday__day__in=days,
            )
            .values_list("customer_id", flat=True)
            .order_by("customer_id")
        )
        for customer_id in list(members):
            with transaction.atomic():
                membership = ledger.locked_membership(programme, customer_id, now, create=False)
                assert membership is not None
                points = membership.tier.birthday_points
                if points <= 0:
                    continue
                movement = ledger.post(
                    programme=programme,
                    customer_id=customer_id,
                    kind=Movement.Kind.BONUS,
                    key=f"birthday:{customer_id}:{today.year}",
                    sides=ledger.credit_sides(programme.pk, customer_id, points, Account.BONUS),
                    occurred_at=now,
                    points=points,
                    expires_at=ledger.expiry_for(programme, now),
                    reason=f"birthday {today.year}",
                )
                granted += movement is not None
    return granted


def record_referral(
    programme: Programme,
    referee: Any,
    code: str,
    *,
    device: str = "",
    actor: Any = None,
    now: datetime | None = None,
) -> Referral:
    """A friend joins with a member's referral code: they are enrolled (by invitation) and both are
    rewarded when the friend's first paid order earns (`referrals.settle`). Refused for an unknown
    code, one's own code, a friend already referred, or a customer who has already earned points."""
    now = now or timezone.now()
    try:
        return _record_referral(programme, referee, code, device=device, actor=actor, now=now)
    except IntegrityError:  # a concurrent request recorded this friend first
        raise ValidationError({"code": _("This customer was already referred.")}) from None


def _record_referral(
    programme: Programme, referee: Any, code: str, *, device: str, actor: Any, now: datetime
) -> Referral:
    with transaction.atomic():
        code = code.strip().upper()
        if not code:
            raise ValidationError({"code": _("Give the referrer's referral code.")})
        referrer = Membership.objects.filter(programme=programme, referral_code=code).first()
        if referrer is None:
            raise ValidationError({"code": _("No member of this programme has that referral code.")})
        if referrer.customer_id == referee.pk:
            raise ValidationError({"code": _("A member cannot refer themselves.")})
        if Referral.objects.filter(programme=programme, referee=referee).exists():
            raise ValidationError({"code": _("This customer was already referred.")})
        if Movement.objects.filter(programme=programme, customer=referee, kind=Movement.Kind.EARN).exists():
            raise ValidationError({"code": _("Only a new customer can be referred.")})
        ledger.locked_membership(programme, referee.pk, now, via=Membership.Via.INVITATION)
        referral = Referral.objects.create(
            programme=programme,
            referrer_id=referrer.customer_id,
            referee=referee,
            device=device.strip()[:200],
            created_at=now,
        )
        audit.record(
            AuditEntry.Action.CREATE,
            actor=_user(actor),
            obj=referee,
            unit=programme.unit,
            message=REFERRAL_RECORDED(referrer=referrer.customer_id),
        )
    return referral


def review_tiers(now: datetime | None = None, programme: Programme | None = None) -> dict[str, int]:
    """The periodic review: every member whose review time has come keeps, starts grace, or is
    downgraded (see `tiers.evaluate`)."""
    now = now or timezone.now()
    outcome: dict[str, int] = {}
    due = Membership.objects.filter(review_at__lte=now)
    if programme is not None:
        due = due.filter(programme=programme)
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            membership = Membership.objects.select_for_update().select_related("programme", "tier").get(pk=pk)
            result = tiers.evaluate(membership, now)
            outcome[result] = outcome.get(result, 0) + 1
    return outcome


@dataclass(frozen=True)
class Problem:
    what: str
    detail: str


LEDGER_REFERENCES = [
    (Movement, "programme", Programme),
    (Movement, "customer", Customer),
    (Movement, "order", Order),
    (Movement, "rule", EarnRule),
    (Entry, "movement", Movement),
    (Entry, "lot", Lot),
    (Entry, "customer", Customer),
    (Lot, "movement", Movement),
    (Lot, "programme", Programme),
    (Lot, "customer", Customer),
]


def check_ledger() -> list[Problem]:
    """Every movement balances, the whole ledger sums to zero, every lot's cached remainder equals its
    entries and none is negative, and every reference of a movement, a lot or an entry leads to a row
    (they have no database constraints, ADR 0042). Empty when the books are right."""
    problems = [
        Problem("dangling", f"{model.__name__.lower()} {pk}: {field} {target_id} does not exist")
        for model, field, target in LEDGER_REFERENCES
        for pk, target_id in model._default_manager.filter(**{f"{field}_id__isnull": False})
        .exclude(Exists(target._default_manager.filter(pk=OuterRef(f"{field}_id"))))
        .values_list("pk", f"{field}_id")
        .order_by("pk")[:100]
    ]
    problems += [
        Problem("unbalanced", f"movement {row['movement_id']} sums to {row['s']}")
        for row in Entry.objects.values("movement_id").annotate(s=Sum("amount")).exclude(s=0).order_by()[:100]
    ]
    total = Entry.objects.aggregate(s=Sum("amount"))["s"] or 0
    if total != 0:
        problems.append(Problem("ledger", f"the ledger sums to {total}"))
    for lot in Lot.objects.annotate(s=Sum("entries__amount")).order_by("pk").iterator(chunk_size=2000):
        if (lot.s or 0) != lot.remaining or lot.remaining < 0:
            problems.append(Problem("lot", f"lot {lot.pk}: remaining {lot.remaining}, entries {lot.s}"))
    return problems


def recalc(
    programme: Programme | None = None,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Re-derive every lot's remainder from its entries and every member's tier: the lots whose cached
    remainder differs from their entries are found by one grouped query; upgrades are set-based
    (`tiers.recalculate`); the members whose review has come are reviewed one by one (keep, grace or
    downgrade, as the daily review does). Members not due for review only ever move up, so this is
    what evaluating every member would do, without reading each one's figures separately."""
    now = now or timezone.now()
    programmes = [programme] if programme is not None else list(Programme.objects.select_related("unit"))
    lots = Lot.objects.all() if programme is None else Lot.objects.filter(programme=programme)
    wrong = list(
        lots.annotate(total=Coalesce(Sum("entries__amount"), 0))
        .exclude(remaining=F("total"))
        .values_list("pk", "total")
        .order_by("pk")
    )
    with transaction.atomic():
        for pk, total in wrong:
            Lot.objects.filter(pk=pk).update(remaining=total)
    changed = 0
    for each in programmes:
        changed += tiers.recalculate(each, now, progress=progress)
        changed += review_tiers(now, each).get("downgrade", 0)
    return {"lots_fixed": len(wrong), "tier_changes": changed}


# --- coupons -------------------------------------------------------------------------------------

TEMPLATE_FIELDS = (
    "name",
    "kind",
    "min_spend",
    "amount_off",
    "percent_off",
    "buy_quantity",
    "free_quantity",
    "cashback_points",
    "categories",
    "stackable",
    "valid_from",
    "valid_until",
    "valid_days",
    "active",
)


@transaction.atomic
def save_coupon_template(
    programme: Programme, *, actor: Any = None, template: CouponTemplate | None = None, **values: Any
) -> CouponTemplate:
    template = template or CouponTemplate(programme=programme)
    for name, value in values.items():
        if name not in TEMPLATE_FIELDS:
            raise ValueError(f"not a coupon template field: {name}")
        setattr(template, name, value)
    errors: dict[str, str] = {}
    kind = template.kind
    if kind == CouponTemplate.Kind.SPEND_SAVE and template.amount_off <= 0:
        errors["amount_off"] = _("A spend-and-save coupon takes an amount off.")
    if kind == CouponTemplate.Kind.PERCENT_OFF and not 0 < template.percent_off < 100:
        errors["percent_off"] = _("A percent-off coupon takes between 0 and 100 percent off.")
    if kind == CouponTemplate.Kind.BUY_GET and (template.buy_quantity <= 0 or template.free_quantity <= 0):
        errors["buy_quantity"] = _("Say how many to buy and how many come free.")
    if kind == CouponTemplate.Kind.CASHBACK and template.cashback_points <= 0:
        errors["cashback_points"] = _("A cash-back coupon credits some points.")
    if template.valid_until is None and template.valid_days is None:
        errors["valid_days"] = _("Give an end date or a number of days from issue.")
    if errors:
        raise ValidationError(errors)
    template.full_clean()
    template.save()
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=template,
        unit=programme.unit,
        message=COUPON_TEMPLATE_SAVED(),
    )
    return template


def generate_coupon_codes(
    template: CouponTemplate, count: int, *, actor: Any = None, progress: Callable[[int], None] | None = None
) -> int:
    if not 0 < count <= 5_000_000:
        raise ValidationError({"count": _("Generate between 1 and 5,000,000 codes at a time.")})
    with transaction.atomic():
        written = coupons.generate_codes(template, count, progress)
        audit.record(
            AuditEntry.Action.CREATE,
            actor=actor,
            obj=template,
            unit=template.programme.unit,
            message=CODES_GENERATED(count=written),
        )
    return written


def import_coupon_codes(template: CouponTemplate, codes: list[str], *, actor: Any = None) -> int:
    """Add a platform's own codes to the pool (codes already known are skipped); how many were new."""
    with transaction.atomic():
        added = coupons.import_codes(template, codes)
        audit.record(
            AuditEntry.Action.IMPORT,
            actor=actor,
            obj=template,
            unit=template.programme.unit,
            message=CODES_GENERATED(count=added),
        )
    return added


def issue_coupons(
    template: CouponTemplate,
    customer_ids: Iterable[int],
    *,
    actor: Any = None,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    key: str = "",
) -> list[CouponCode]:
    """One code of the pool to each customer (in batches of a transaction each). With `key` (a
    campaign send, a job) the issue is idempotent: a customer who already holds a code issued under
    that key gets nothing new, so a retried send issues nothing twice. Returns each customer's code,
    in the order given: under a key, the code the first issue gave them."""
    now = now or timezone.now()
    if not template.active:
        raise ValidationError({"template": _("This coupon template is not active.")})
    issued, result = coupons.issue_many(template, customer_ids, now, key, progress)
    if issued or not key:
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=template,
            unit=template.programme.unit,
            message=COUPONS_ISSUED(count=len(issued)),
        )
    return result


def redeem_coupon(code: str, order: Any, now: datetime | None = None) -> bool:
    """Redeem `code` on `order` (the API's path for a platform that reports redemptions itself)."""
    now = now or timezone.now()
    with transaction.atomic():
        row = (
            CouponCode.objects.select_for_update()
            .select_related("template__programme")
            .filter(code=code.strip().upper())
            .first()
        )
        if row is None or row.state != CouponCode.State.ISSUED:
            return False
        return coupons.redeem(row, order, now)


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None
