"""Two-factor sign-in made compulsory for the users who can do the most harm (reliability.md AC-7).

`GUANXI_MFA_REQUIRED_FOR` lists roles ("system_admin") and permissions ("accounts.manage",
"data.export", "privacy.approve"); a user holding any of them must have a confirmed authenticator and
have used it in this session. Until then every page sends them to the enrolment page (or, if they
already have an authenticator, back to sign-in) and the API answers 403 to their session; API tokens
are made from a verified session and are not affected.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from guanxi.accounts.models import User
from guanxi.accounts.signin import confirmed_device
from guanxi.api.errors import problem_response

# Where an unverified user may still go: enrolling, signing in with a code, leaving.
EXEMPT_VIEWS = frozenset({"accounts:otp_setup", "accounts:otp_verify", "accounts:login", "accounts:logout"})


def requires_mfa(user: User) -> bool:
    required = settings.GUANXI_MFA_REQUIRED_FOR
    return user.role in required or any(user.has_permission(item) for item in required if "." in item)


class RequireMfaMiddleware:
    """After django_otp's OTPMiddleware, which tells whether the session's device was verified."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        user = request.user
        if not isinstance(user, User) or user.otp_device is not None or not requires_mfa(user):
            return None  # anonymous, or verified in this session (django_otp sets otp_device), or exempt
        match = request.resolver_match
        if match is not None and match.view_name in EXEMPT_VIEWS:
            return None
        if request.path.startswith("/api/"):
            return problem_response(request, 403, _("Two-factor sign-in is required for this account."))
        if confirmed_device(user) is not None:
            # Signed in before the rule applied to them: sign in again, this time with a code.
            logout(request)
            return redirect("accounts:login")
        return redirect("accounts:otp_setup")
