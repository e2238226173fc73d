"""The customer filters the customer and order reports share: a loyalty tier (through the tier filter
loyalty registers on the customer list) and a saved segment the viewer may see. Its own module so that
the catalogue and the Analytics page's analyses (which the catalogue imports) both offer them."""

from typing import Any, TypeVar

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy

from guanxi.customers.models import Customer
from guanxi.customers.references import list_filters
from guanxi.reports.kit import Filter, Scope
from guanxi.segments.actions import current_members
from guanxi.segments.models import Segment

Rows = TypeVar("Rows", bound=QuerySet)
TIER_LIST_FILTER = "loyalty_tier"  # the tier filter loyalty registers on the customer list


def _tier_filter():
    return next((f for f in list_filters() if f.key == TIER_LIST_FILTER), None)


def _tier_choices(user) -> list[tuple[str, Any]]:
    tier = _tier_filter()
    return tier.choices() if tier is not None else []


TIER_FILTER = Filter("tier", gettext_lazy("Loyalty tier"), _tier_choices)
SEGMENT_FILTER = Filter(
    "segment",
    gettext_lazy("Segment"),
    lambda user: [(str(pk), name) for pk, name in visible_segments(user).values_list("pk", "name")],
)
CUSTOMER_FILTERS = (TIER_FILTER, SEGMENT_FILTER)


def visible_segments(user) -> QuerySet:
    return Segment.objects.restrict(user, "view").order_by("name", "pk")


def chosen_segment(user, scope: Scope) -> Segment | None:
    """The scope's segment when the user may see it; None otherwise (or when none is chosen)."""
    if not scope.segment or not scope.segment.isdigit():
        return None
    return visible_segments(user).filter(pk=int(scope.segment)).first()


def of_customers(rows: Rows, user, scope: Scope, field: str = "customer_id") -> Rows:
    """`rows` narrowed to the customers of the scope's loyalty tier (through the tier filter loyalty
    registers on the customer list, in the scope's unit) and of its segment (the current members the
    user may see). A segment the user may not see, or a tier that is no rank, keeps no rows."""
    if scope.tier:
        tier = _tier_filter()
        if tier is None or not scope.tier.isdigit():
            return rows.none()
        unit_id = scope.unit.pk if scope.unit is not None else None
        customers = tier.apply(Customer.objects.restrict(user, "view"), user, scope.tier, unit_id)
        rows = rows.filter(**{f"{field}__in": customers.values("pk")})
    if scope.segment:
        segment = chosen_segment(user, scope)
        if segment is None:
            return rows.none()
        rows = rows.filter(**{f"{field}__in": current_members(user, segment).values("customer_id")})
    return rows
