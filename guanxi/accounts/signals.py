"""Audit of authentication events, which Django reports through its auth signals."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from guanxi.accounts.phrases import SIGN_IN_AS
from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.core.privacy import mask_value


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit.record(AuditEntry.Action.LOGIN, actor=user, obj=user, ip_address=audit.client_address(request))


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record(AuditEntry.Action.LOGOUT, actor=user, obj=user, ip_address=audit.client_address(request))


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))
    audit.record(
        AuditEntry.Action.LOGIN_FAILED,
        ip_address=audit.client_address(request) if request else None,
        object_type="accounts.user",
        message=SIGN_IN_AS(username=mask_value(username)),
    )
