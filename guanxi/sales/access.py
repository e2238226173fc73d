"""Who may do what in sales, beyond what `restrict()` already scopes.

Reads and writes of records go through `Model.objects.restrict(user, action)` (own records for a
sales rep, the team's and the pool for a sales manager, the unit for everyone else). These helpers
answer the questions restrict() cannot: who may be given a record, who manages a unit's sales, and
which of a user's units a new record belongs to.
"""

from typing import Any

from django.db.models import QuerySet

from guanxi.accounts.models import BusinessUnit, User
from guanxi.accounts.roles import (
    MANAGE_SALES,
    OWN_RECORD_ROLES,
    ROLE_PERMISSIONS,
    TEAM_RECORD_ROLES,
    TRANSFER_SALES,
    Role,
)
from guanxi.core.access import Denied

# The people who sell: reps and their leads. Activity reports and the inactivity rule are about them.
SALES_ROLES = (*OWN_RECORD_ROLES, *TEAM_RECORD_ROLES)
# New leads are dealt out among these, one each in turn (round robin).
ROTATION_ROLES = tuple(OWN_RECORD_ROLES)


def manages_sales(user: Any, unit: Any = None) -> bool:
    """May assign records to others, configure pipelines and rules, set quotas (in `unit` if given)."""
    if not (user.is_authenticated and user.has_permission(MANAGE_SALES)):
        return False
    return unit is None or BusinessUnit.objects.restrict(user, "view").filter(pk=unit.pk).exists()


def require_manager(user: Any, unit: Any) -> None:
    """Refuse unless `user` manages sales in `unit`; None is the system itself (the demo loader, a
    unit's first default pipeline), which no request can pass."""
    if user is not None and not manages_sales(user, unit):
        raise Denied(MANAGE_SALES, unit=unit)


def may_transfer_across_units(user: Any) -> bool:
    """The group decides cross-unit allocations (跨版块的分配)."""
    return bool(user.is_authenticated and user.has_permission(TRANSFER_SALES) and user.sees_all_units())


def sales_users(unit: Any) -> QuerySet[User]:
    """Members of `unit` who sell (reps and sales managers), active or not."""
    return User.objects.filter(units=unit, role__in=SALES_ROLES).order_by("pk")


def assignable_users(unit: Any) -> QuerySet[User]:
    """Who may own a unit's lead, opportunity, account or activity: its active members who may add
    sales records (reps, sales managers, unit heads and admins)."""
    roles = [role for role in Role.values if "sales.add" in ROLE_PERMISSIONS.get(role, frozenset())]
    return User.objects.filter(units=unit, role__in=roles, is_active=True).order_by("pk")


def writable_units(user: Any) -> QuerySet[BusinessUnit]:
    """The units a user may create sales records in."""
    if not (user.is_authenticated and user.has_permission("sales.add")):
        return BusinessUnit.objects.none()
    return BusinessUnit.objects.restrict(user, "view").filter(is_active=True)


def unit_for_new_record(user: Any, unit_id: int | None) -> BusinessUnit | None:
    """The unit a new record of `user` belongs to: the one asked for among theirs, else their only
    one; None when they must choose (or may not write)."""
    units = writable_units(user)
    if unit_id is not None:
        return units.filter(pk=unit_id).first()
    found = list(units[:2])
    return found[0] if len(found) == 1 else None


def transfer_targets(lead: Any) -> QuerySet[BusinessUnit]:
    """The units a lead may be handed to: every other active unit of the group. Their names are the
    group's structure, not another unit's data, and a rep must name one to ask for a cross-unit
    allocation (跨版块分配), which the group then decides."""
    return BusinessUnit.objects.filter(is_active=True).exclude(pk=lead.unit_id).order_by("code")
