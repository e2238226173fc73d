"""Who may manage whom, and the only way a request loads a user or an API token.

A system administrator manages every user. A unit administrator manages users whose units
all lie within their own, and never users holding organisation-wide roles; they cannot grant
those roles, units that are not theirs, or data permissions they do not hold themselves.
"""

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.http import Http404

from guanxi.accounts.models import ApiToken, BusinessUnit, User
from guanxi.accounts.roles import ALL_UNIT_ROLES, Role
from guanxi.core.access import deny, require

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

MANAGE = "accounts.manage"


def manages_everyone(actor: User) -> bool:
    return actor.has_permission(MANAGE) and actor.role == Role.SYSTEM_ADMIN


def manageable_users(actor: User) -> QuerySet[User]:
    if not actor.is_authenticated or not actor.has_permission(MANAGE):
        return User.objects.none()
    if manages_everyone(actor):
        return User.objects.all()
    units = BusinessUnit.objects.restrict(actor, "view")
    return (
        User.objects.filter(units__in=units)
        .exclude(units__in=BusinessUnit.objects.exclude(pk__in=units))
        .exclude(role__in=ALL_UNIT_ROLES)
        .distinct()
    )


def manageable_units(actor: User) -> QuerySet[BusinessUnit]:
    """The units whose settings the actor may change: every unit for a system administrator, their
    own for a unit administrator."""
    return BusinessUnit.objects.restrict(actor, "manage")


def may_create_units(actor: User) -> bool:
    """Only an organisation-wide administrator adds units: a unit administrator's reach is their own."""
    return manages_everyone(actor)


def access_user_by_id(request, pk: int) -> User:
    """The user `pk` if the caller may manage them: 403 without the permission, 404 outside their scope."""
    actor = require(request, MANAGE)
    user = manageable_users(actor).filter(pk=pk).first()
    if user is None:
        # Audited like a denial, answered like a missing row: other units' users stay invisible.
        deny(request, MANAGE, obj=User(pk=pk))
        raise Http404
    return user


def grantable_roles(actor: User) -> list[tuple[str, "StrOrPromise"]]:
    if manages_everyone(actor):
        return list(Role.choices)
    return [(value, label) for value, label in Role.choices if value not in ALL_UNIT_ROLES]


def grantable_units(actor: User) -> QuerySet[BusinessUnit]:
    # Every unit for a system administrator, their own for a unit administrator.
    return BusinessUnit.objects.restrict(actor, "view").filter(is_active=True)


def may_grant(actor: User, permission: str) -> bool:
    """Unit administrators pass on PII and export rights only if they hold them."""
    return manages_everyone(actor) or actor.has_permission(permission)


def own_tokens(actor: User) -> QuerySet[ApiToken]:
    if not actor.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user=actor)


def access_token_by_id(actor: User, pk: int) -> ApiToken:
    token = own_tokens(actor).filter(pk=pk).first()
    if token is None:
        raise Http404
    return token
