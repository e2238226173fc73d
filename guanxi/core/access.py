"""Refusing a request: a 403 page, and an audit entry saying who was refused what.

Every view that checks a permission refuses through here, so each denial is audited the same way.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied

from guanxi.core import audit
from guanxi.core.models import AuditEntry


def deny(request, permission: str, *, unit: Any = None) -> PermissionDenied:
    """Record the denial and return the exception for the caller to raise (Django renders 403.html).

    The entry belongs to `unit` if given, else to the user's only unit when they have exactly one,
    so that unit's head sees it.
    """
    user = request.user
    if unit is None and user.is_authenticated:
        unit_ids = user.visible_unit_ids()
        if unit_ids is not None and len(unit_ids) == 1:
            unit = user.units.get()
    audit.record(
        AuditEntry.Action.PERMISSION_DENIED,
        actor=user,
        unit=unit,
        ip_address=audit.client_address(request),
        object_type="permission",
        object_id=permission,
        message=f"{request.method} {request.path}",
    )
    return PermissionDenied(permission)


def require(request, permission: str, *, unit: Any = None):
    """The user, if they hold `permission`; otherwise raise PermissionDenied after auditing it."""
    user = request.user
    if not (user.is_authenticated and user.has_permission(permission)):
        raise deny(request, permission, unit=unit)
    return user


def permission_required(permission: str) -> Callable:
    """Allow the view only to users holding `permission`; others get 403 and an audit entry."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            require(request, permission)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
