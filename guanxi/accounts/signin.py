"""Signing in: a password step, then a one-time code for users with an authenticator.

Both steps are throttled before anything is checked, so a refused guess never reaches the
password hasher or the device. Between the steps the user is not signed in: only their id
waits in the session, for a few minutes.
"""

import enum
import time
from dataclasses import dataclass

from django.contrib.auth import authenticate, login
from django.http import HttpRequest
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from guanxi.accounts import throttle
from guanxi.accounts.models import User
from guanxi.accounts.phrases import CODE_THROTTLED, SIGN_IN_AS, WRONG_CODE
from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.core.privacy import mask_value

PENDING_SESSION_KEY = "guanxi_otp_pending"
PENDING_MAX_AGE_SECONDS = 5 * 60


class Outcome(enum.Enum):
    SIGNED_IN = "signed_in"
    NEEDS_CODE = "needs_code"
    REFUSED = "refused"
    THROTTLED = "throttled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    wait_seconds: int = 0


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def sign_in_with_password(request: HttpRequest, username: str, password: str) -> Result:
    address = audit.client_address(request)
    limits = throttle.login_limits(username, address)
    wait = throttle.reserve(limits)
    if wait:
        audit.record(
            AuditEntry.Action.LOGIN_THROTTLED,
            ip_address=address,
            object_type="accounts.user",
            message=SIGN_IN_AS(username=mask_value(username)),
        )
        return Result(Outcome.THROTTLED, wait)
    user = authenticate(request, username=username, password=password)
    if user is None:
        return Result(Outcome.REFUSED)  # the user_login_failed signal writes the audit entry
    username_limit, address_limit = limits
    throttle.reset([username_limit])
    throttle.release([address_limit])
    if confirmed_device(user) is None:
        login(request, user)
        return Result(Outcome.SIGNED_IN)
    request.session.cycle_key()
    request.session[PENDING_SESSION_KEY] = {
        "user_id": user.pk,
        "backend": user.backend,
        "since": int(time.time()),
    }
    return Result(Outcome.NEEDS_CODE)


def pending_user(request: HttpRequest) -> User | None:
    """The user who passed the password step in this session and still owes a code."""
    pending = request.session.get(PENDING_SESSION_KEY)
    if not pending or time.time() - pending["since"] > PENDING_MAX_AGE_SECONDS:
        return None
    return User.objects.filter(pk=pending["user_id"], is_active=True).first()


def sign_in_with_code(request: HttpRequest, token: str) -> Result:
    user = pending_user(request)
    if user is None:
        request.session.pop(PENDING_SESSION_KEY, None)
        return Result(Outcome.EXPIRED)
    address = audit.client_address(request)
    limits = throttle.otp_limits(user.pk)
    wait = throttle.reserve(limits)
    if wait:
        audit.record(
            AuditEntry.Action.LOGIN_THROTTLED, obj=user, ip_address=address, message=CODE_THROTTLED()
        )
        return Result(Outcome.THROTTLED, wait)
    device = confirmed_device(user)
    verified = verify_token(user, device.persistent_id, token) if device else None
    if verified is None:
        audit.record(AuditEntry.Action.LOGIN_FAILED, obj=user, ip_address=address, message=WRONG_CODE())
        return Result(Outcome.REFUSED)
    throttle.reset(limits)
    backend = request.session.pop(PENDING_SESSION_KEY)["backend"]
    user.otp_device = verified  # django_otp marks the session as verified on login
    login(request, user, backend=backend)
    return Result(Outcome.SIGNED_IN)
