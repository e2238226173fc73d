"""What loyalty adds to a customer: its references (a merge moves memberships, ledger rows, tier
history and coupons to the survivor; of two memberships of one programme the older stays, and undo
restores the other), points movements and tier changes on the timeline, the Loyalty section of the
360 page and API, the tier list filter and the membership beside a profile in the merge queue."""

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from guanxi.customers.references import (
    ApiPart,
    ListFilter,
    Repoint,
    Section,
    register_list_filter,
    register_profile_facts,
    register_reference,
    register_section,
    register_timeline_source,
)
from guanxi.customers.timeline import TimelineItem
from guanxi.loyalty import fetch
from guanxi.loyalty.models import (
    CouponCode,
    Entry,
    Lot,
    Membership,
    Movement,
    Referral,
    Tier,
    TierChange,
)

MOVEMENT_KIND = "points_movement"
TIER_KIND = "tier_change"


def loyalty_for_api(user: Any, customer: Any) -> list[dict]:
    return [
        {
            "programme_id": view.membership.programme_id,
            "programme": view.membership.programme.name,
            "membership_id": view.membership.pk,
            "tier": view.membership.tier.name,
            "tier_rank": view.membership.tier.rank,
            "tier_since": view.membership.tier_since,
            "points": view.balance,
            "debt": view.debt,
            "points_value": view.value,
            "next_expiry_points": view.next_expiry[0] if view.next_expiry else 0,
            "next_expiry_at": view.next_expiry[1] if view.next_expiry else None,
        }
        for view in fetch.customer_loyalty(user, customer).members
    ]


def timeline_items(customer: Any, user: Any, limit: int) -> list[TimelineItem]:
    movements = (
        Movement.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("programme")
        .order_by("-occurred_at", "-pk")[:limit]
    )
    items = [
        TimelineItem(
            occurred_at=m.occurred_at,
            kind=MOVEMENT_KIND,
            summary=gettext("%(kind)s: %(points)+d %(name)s")
            % {"kind": m.get_kind_display(), "points": m.points, "name": m.programme.points_name},
            unit_id=m.programme.unit_id,
            data={"kind": m.kind, "points": m.points},
            source_type="loyalty.movement",
            source_id=str(m.pk),
        )
        for m in movements
    ]
    changes = (
        TierChange.objects.restrict(user, "view")
        .filter(customer=customer)
        .exclude(reason=TierChange.Reason.GRACE)
        .select_related("programme", "to_tier")
        .order_by("-changed_at", "-pk")[:limit]
    )
    items += [
        TimelineItem(
            occurred_at=c.changed_at,
            kind=TIER_KIND,
            summary=gettext("Tier %(tier)s (%(reason)s)")
            % {"tier": c.to_tier.name, "reason": c.get_reason_display()},
            unit_id=c.programme.unit_id,
            data={"tier": c.to_tier.rank, "reason": c.reason},
            source_type="loyalty.tier_change",
            source_id=str(c.pk),
        )
        for c in changes
    ]
    return sorted(items, key=lambda item: item.occurred_at, reverse=True)[:limit]


def tier_choices() -> list[tuple[str, Any]]:
    names: dict[int, str] = {}
    for rank, name in Tier.objects.order_by("rank", "programme_id").values_list("rank", "name"):
        names.setdefault(rank, name)
    return [(str(rank), name) for rank, name in names.items()]


def filter_by_tier(customers: QuerySet, user: Any, value: str, unit_id: int | None) -> QuerySet:
    if not value.isdigit():
        return customers
    members = Membership.objects.restrict(user, "view").filter(tier__rank=int(value))
    if unit_id is not None:
        members = members.filter(programme__unit_id=unit_id)
    return customers.filter(pk__in=members.values("customer_id"))


def membership_facts(user: Any, customer: Any) -> list[tuple[Any, str]]:
    views = fetch.customer_loyalty(user, customer).members
    if not views:
        return []
    return [
        (
            _("Loyalty"),
            ", ".join(f"{v.membership.programme.name}: {v.membership.tier.name}, {v.balance}" for v in views),
        )
    ]


def register() -> None:
    register_personal_data()
    from guanxi.loyalty.schemas import CustomerMembershipOut

    # One membership per programme: of two profiles' memberships the older stays (undo restores the other).
    register_reference("loyalty_memberships", Membership, Repoint(unique_with=("programme",), keep="id"))
    register_reference("loyalty_tier_changes", TierChange, Repoint())
    register_reference("loyalty_movements", Movement, Repoint())
    register_reference("loyalty_entries", Entry, Repoint())
    register_reference("loyalty_lots", Lot, Repoint())
    register_reference("loyalty_coupons", CouponCode, Repoint())
    register_reference("loyalty_referrers", Referral, Repoint(), field="referrer")
    register_reference(
        "loyalty_referees", Referral, Repoint(unique_with=("programme",), keep="id"), field="referee"
    )
    register_timeline_source("loyalty", timeline_items)
    register_section(
        Section(
            key="loyalty",
            template="loyalty/customer_loyalty.html",
            kpi_template="loyalty/customer_kpis.html",
            fetch=fetch.customer_loyalty,
            api=ApiPart(
                list[CustomerMembershipOut],
                "The person's loyalty memberships the caller may see: tier, points, their value and next expiry.",
                loyalty_for_api,
            ),
        )
    )
    register_list_filter(
        ListFilter(key="loyalty_tier", label=_("Loyalty tier"), choices=tier_choices, apply=filter_by_tier)
    )
    register_profile_facts("loyalty", membership_facts)


def register_personal_data() -> None:
    """Declare how erasure treats this app's personal fields (guanxi.privacy; a test keeps it complete)."""
    from guanxi.customers.references import NotPersonal, register_pii
    from guanxi.loyalty.models import CouponTemplate, Programme, Tier

    register_pii(Programme, ["name", "points_name"], NotPersonal("The programme's own names."))
    register_pii(CouponTemplate, ["name"], NotPersonal("A coupon's name."))
    register_pii(Tier, ["name"], NotPersonal("A tier's name."))
