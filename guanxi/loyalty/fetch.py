"""Loyalty reads for pages, the API and the 360 section; every one scoped through `restrict()`."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Count,
    DateTimeField,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from guanxi.core.money import round_money
from guanxi.loyalty import ledger
from guanxi.loyalty.models import (
    CouponCode,
    CouponTemplate,
    Lot,
    Membership,
    Movement,
    Programme,
    Tier,
    TierChange,
)

RECENT = 10
_EPSILON = timedelta(microseconds=1)


def programmes(user: Any, action: str = "view") -> QuerySet:
    return Programme.objects.restrict(user, action).select_related("unit").order_by("name", "pk")


def programme_by_id(user: Any, pk: int, action: str = "view") -> Programme:
    programme = programmes(user, action).filter(pk=pk).first()
    if programme is None:
        raise Http404
    return programme


def template_by_id(user: Any, pk: int, action: str = "view") -> CouponTemplate:
    template = (
        CouponTemplate.objects.restrict(user, action).select_related("programme__unit").filter(pk=pk).first()
    )
    if template is None:
        raise Http404
    return template


def coupon_by_code(user: Any, code: str, action: str = "view") -> CouponCode | None:
    return CouponCode.objects.restrict(user, action).filter(code=code.strip().upper()).first()


def membership_by_id(user: Any, pk: int, action: str = "view") -> Membership:
    membership = (
        Membership.objects.restrict(user, action)
        .select_related("programme__unit", "tier", "customer")
        .filter(pk=pk)
        .first()
    )
    if membership is None:
        raise Http404
    return membership


def balance_subquery() -> Coalesce:
    lots = (
        Lot.objects.filter(programme_id=OuterRef("programme_id"), customer_id=OuterRef("customer_id"))
        .values("customer_id")
        .annotate(s=Sum("remaining"))
        .values("s")
    )
    return Coalesce(Subquery(lots, output_field=IntegerField()), Value(0))


def members(user: Any, filters: dict[str, str]) -> QuerySet:
    """Members the user may see, with their balance; filtered by programme, tier and points range."""
    rows = (
        Membership.objects.restrict(user, "view")
        .select_related("programme", "tier", "customer")
        .annotate(balance=balance_subquery())
    )
    if filters.get("programme", "").isdigit():
        rows = rows.filter(programme_id=int(filters["programme"]))
    if filters.get("tier", "").isdigit():
        rows = rows.filter(tier_id=int(filters["tier"]))
    if filters.get("min_points", "").lstrip("-").isdigit():
        rows = rows.filter(balance__gte=int(filters["min_points"]))
    if filters.get("max_points", "").lstrip("-").isdigit():
        rows = rows.filter(balance__lte=int(filters["max_points"]))
    return rows.order_by("-joined_at", "-pk")


@dataclass(frozen=True)
class MemberView:
    membership: Membership
    balance: int
    debt: int
    value: Decimal
    next_expiry: tuple[int, datetime] | None
    movements: tuple[Movement, ...]
    history: tuple[TierChange, ...]
    coupons: tuple[CouponCode, ...]
    next_tier: Tier | None


def member_view(membership: Membership, user: Any, limit: int = RECENT) -> MemberView:
    programme = membership.programme
    customer_id = membership.customer_id
    balance = ledger.balance(programme.pk, customer_id)
    expiring = (
        Lot.objects.filter(
            programme=programme, customer_id=customer_id, remaining__gt=0, expires_at__isnull=False
        )
        .order_by("expires_at")
        .values("expires_at")
        .annotate(s=Sum("remaining"))
        .first()
    )
    movements = Movement.objects.restrict(user, "view").filter(programme=programme, customer_id=customer_id)
    return MemberView(
        membership=membership,
        balance=balance,
        debt=ledger.debt(programme.pk, customer_id),
        value=round_money(balance * programme.point_value),
        next_expiry=(int(expiring["s"]), expiring["expires_at"])
        if expiring and expiring["expires_at"]
        else None,
        movements=tuple(movements.select_related("order").order_by("-occurred_at", "-pk")[:limit]),
        history=tuple(
            TierChange.objects.restrict(user, "view")
            .filter(programme=programme, customer_id=customer_id)
            .select_related("from_tier", "to_tier")
            .order_by("-changed_at", "-pk")[:limit]
        ),
        coupons=tuple(
            CouponCode.objects.restrict(user, "view")
            .filter(template__programme=programme, customer_id=customer_id)
            .select_related("template")
            .order_by("-issued_at", "-pk")[:limit]
        ),
        next_tier=Tier.objects.filter(programme=programme, rank__gt=membership.tier.rank)
        .order_by("rank")
        .first(),
    )


@dataclass(frozen=True)
class CustomerLoyalty:
    """The 360 page's Loyalty section: the person's memberships the user may see."""

    members: tuple[MemberView, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.members


def customer_loyalty(user: Any, customer: Any) -> CustomerLoyalty:
    memberships = (
        Membership.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("programme__unit", "tier")
        .order_by("programme__name")
    )
    return CustomerLoyalty(members=tuple(member_view(m, user, limit=5) for m in memberships))


@dataclass
class Liability:
    programme: Programme
    points: int = 0
    value: Decimal = Decimal(0)
    by_month: list[tuple[str, int, Decimal]] = field(default_factory=list)  # ("2027-01", points, value)
    never: int = 0


def liability(user: Any) -> list[Liability]:
    """Outstanding points of each visible programme and their value, by the month they expire in
    (in the unit's time zone)."""
    result = []
    for programme in programmes(user):
        zone = ZoneInfo(programme.unit.time_zone)
        report = Liability(programme)
        months: dict[str, int] = defaultdict(int)
        rows = (
            Lot.objects.filter(programme=programme, remaining__gt=0)
            .values("expires_at")
            .annotate(s=Sum("remaining"))
            .order_by()
        )
        for row in rows:
            points = int(row["s"])
            report.points += points
            if row["expires_at"] is None:
                report.never += points
            else:
                # Expiry is the first instant after the last day; points count in the month they last.
                last = (row["expires_at"].astimezone(zone)) - _EPSILON
                months[f"{last:%Y-%m}"] += points
        report.value = round_money(report.points * programme.point_value)
        report.by_month = [
            (month, points, round_money(points * programme.point_value))
            for month, points in sorted(months.items())
        ]
        result.append(report)
    return result


def tier_distribution(user: Any) -> list[tuple[Programme, list[tuple[Tier, int]]]]:
    counts = dict(
        Membership.objects.restrict(user, "view").values_list("tier_id").annotate(n=Count("pk")).order_by()
    )
    out = []
    for programme in programmes(user):
        ladder = list(Tier.objects.filter(programme=programme).order_by("rank"))
        out.append((programme, [(tier, counts.get(tier.pk, 0)) for tier in ladder]))
    return out


def movement_totals(user: Any) -> list[tuple[str, Any, int]]:
    """Points moved per kind (its label) and month (UTC months), newest first."""
    rows: dict[tuple[str, str], int] = defaultdict(int)
    for kind, occurred_at, points in (
        Movement.objects.restrict(user, "view")
        .values_list("kind", "occurred_at", "points")
        .order_by("-occurred_at")[:20000]
    ):
        rows[(f"{occurred_at:%Y-%m}", kind)] += points
    return [
        (month, Movement.Kind(kind).label, points)
        for (month, kind), points in sorted(rows.items(), reverse=True)
    ]


def coupon_report(user: Any) -> list[dict[str, Any]]:
    """Each visible template with its codes by state and the discount given."""
    templates = (
        CouponTemplate.objects.restrict(user, "view")
        .select_related("programme")
        .order_by("-created_at", "-pk")
    )
    stats = {
        row["template_id"]: row
        for row in CouponCode.objects.restrict(user, "view")
        .values("template_id")
        .annotate(
            total=Count("pk"),
            available=Count("pk", filter=Q(state=CouponCode.State.AVAILABLE)),
            issued=Count("pk", filter=Q(state=CouponCode.State.ISSUED)),
            redeemed=Count("pk", filter=Q(state=CouponCode.State.REDEEMED)),
            expired=Count("pk", filter=Q(state=CouponCode.State.EXPIRED)),
            discount=Sum("discount"),
        )
        .order_by()
    }
    empty = {"total": 0, "available": 0, "issued": 0, "redeemed": 0, "expired": 0, "discount": Decimal(0)}
    rows = []
    for template in templates:
        row = {**empty, **{k: v for k, v in stats.get(template.pk, {}).items() if v is not None}}
        row["discount"] = round_money(row["discount"])
        rows.append({**row, "template": template})
    return rows


def open_lots(user: Any) -> QuerySet:
    """Lots with points left in the programmes the user may see, for the reports' liability report:
    each with `points_value` (its remaining points × the programme's point value) and `last_day` (the instant
    before it expires, so points that expire at midnight on 1 January count in December)."""
    return Lot.objects.filter(programme__in=programmes(user).values("pk"), remaining__gt=0).annotate(
        points_value=ExpressionWrapper(
            F("remaining") * F("programme__point_value"),
            output_field=DecimalField(max_digits=20, decimal_places=4),
        ),
        last_day=ExpressionWrapper(F("expires_at") - Value(_EPSILON), output_field=DateTimeField()),
    )


def memberships(user: Any) -> QuerySet:
    """Every membership the user may see, for the reports' members-by-tier report."""
    return Membership.objects.restrict(user, "view")
