"""Logging filters, importable before the apps are loaded (LOGGING is configured first)."""

import logging


class ForbiddenLoggedByDeny(logging.Filter):
    """Drops django.request's 403 records (with a traceback for PermissionDenied): deny() in
    guanxi.core.access has already written one line for the same request."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) != 403
