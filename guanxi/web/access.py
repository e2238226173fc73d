"""Refusing a request: a 403 page, and an audit entry saying who was refused what."""

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied

from guanxi.core import audit
from guanxi.core.models import AuditEntry


def deny(request, permission: str) -> PermissionDenied:
    """Record the denial and return the exception for the caller to raise (Django renders 403.html)."""
    user = request.user
    unit_ids = user.visible_unit_ids() if user.is_authenticated else None
    audit.record(
        AuditEntry.Action.PERMISSION_DENIED,
        actor=user,
        # A member of exactly one unit is refused on behalf of that unit, so its head sees it.
        unit=user.units.get() if unit_ids is not None and len(unit_ids) == 1 else None,
        ip_address=audit.client_address(request),
        object_type="permission",
        object_id=permission,
        message=f"{request.method} {request.path}"[:500],
    )
    return PermissionDenied(permission)


def permission_required(permission: str) -> Callable:
    """Allow the view only to users holding `permission`; others get 403 and an audit entry."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not (request.user.is_authenticated and request.user.has_permission(permission)):
                raise deny(request, permission)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
