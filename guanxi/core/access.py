"""Refusing a request: one audit entry and one log line per denial, then a 403.

`deny()` is the only place a denial is recorded. Views call it through `require()`; actions that
refuse deeper down raise `Denied` (or a plain PermissionDenied), and the web 403 handler and the API
error handler pass whatever reaches them to `deny()`, which records each refusal exactly once.
"""

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models

from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.core.phrases import OBJECT_REFUSED, REQUEST_REFUSED

logger = logging.getLogger("guanxi.access")


class Denied(PermissionDenied):
    """A refusal that names the permission and, when there is one, the object refused."""

    def __init__(self, permission: str, *, obj: models.Model | None = None, unit: Any = None) -> None:
        super().__init__(permission)
        self.permission = permission
        self.obj = obj
        self.unit = unit
        self.audited = False


def deny(request, refusal: str | PermissionDenied, *, obj: Any = None, unit: Any = None) -> Denied:
    """Record the denial once and return the exception for the caller to raise.

    The entry names `obj` if given (else the permission), and belongs to `unit` if given, else to
    the object's unit, else to the user's only unit when they have exactly one, so that unit's head
    sees it. An exception that was already recorded is returned as it is.
    """
    if isinstance(refusal, Denied):
        if refusal.audited:
            return refusal
        denied = refusal
    elif isinstance(refusal, PermissionDenied):
        # Raised without a name (a bare PermissionDenied, or Django's own): its text, if any.
        denied = Denied(str(refusal) or "unknown")
    else:
        denied = Denied(refusal, obj=obj, unit=unit)
    denied.audited = True
    user = request.user
    unit = denied.unit
    if unit is None and denied.obj is not None:
        unit = getattr(denied.obj, "unit", None)
    if unit is None and user.is_authenticated:
        unit = user.only_unit()
    path = _loggable(request.path)
    audit.record(
        AuditEntry.Action.PERMISSION_DENIED,
        actor=user,
        unit=unit,
        ip_address=audit.client_address(request),
        obj=denied.obj,
        object_type="" if denied.obj is not None else "permission",
        object_id="" if denied.obj is not None else denied.permission[:64],
        message=(
            OBJECT_REFUSED(method=request.method, path=path, permission=denied.permission)
            if denied.obj is not None
            else REQUEST_REFUSED(method=request.method, path=path)
        ),
    )
    # One line, no traceback: Django's own 403 lines are filtered out (core/logs.py).
    logger.warning(
        "Permission denied: user=%s method=%s path=%s permission=%s",
        user.get_username() if user.is_authenticated else "-",
        request.method,
        path,
        _loggable(denied.permission),
    )
    return denied


def _loggable(text: str) -> str:
    """Control characters escaped, so a crafted path cannot forge a log line."""
    return text.encode("unicode_escape").decode("ascii")[:300]


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
