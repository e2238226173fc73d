"""Who is calling: a personal API token (Bearer gx_…) or the signed-in browser session.

Both set `request.user` (so endpoints scope with `restrict(request.user, …)` either way) and
`request.api_token` (the ApiToken, or None for a session), then count the call against the
client's rate limit.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

# Messages are raised inside the request, so they translate into its language right away.
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from guanxi.accounts.actions import TOKEN_PREFIX
from guanxi.accounts.models import ApiToken
from guanxi.api import ratelimit
from guanxi.api.errors import ApiError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# last_used_at is informative; writing it on every call would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _authenticated(request: HttpRequest, user: Any, token: ApiToken | None, subject: str) -> None:
    request.user = user
    request.api_token = token  # type: ignore[attr-defined]
    ratelimit.remember(request, ratelimit.count_request(subject))


class TokenAuth(HttpBearer):
    """`Authorization: Bearer gx_…`. A token that is present but unusable fails the request."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        if not token.startswith(TOKEN_PREFIX):
            raise AuthenticationError(message=_("Invalid API token."))
        api_token = ApiToken.objects.select_related("user").filter(digest=ApiToken.digest_of(token)).first()
        if api_token is None or not api_token.user.is_active:
            raise AuthenticationError(message=_("Invalid API token."))
        now = timezone.now()
        if api_token.revoked_at is not None:
            raise AuthenticationError(message=_("This API token has been revoked."))
        if api_token.expires_at is not None and api_token.expires_at <= now:
            raise AuthenticationError(message=_("This API token has expired."))
        if api_token.scope != ApiToken.Scope.READ_WRITE and request.method not in SAFE_METHODS:
            request.user = api_token.user  # so the denial is audited as theirs
            raise ApiError(403, _("This API token is read-only."), permission="token.write")
        if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
            api_token.last_used_at = now
        _authenticated(request, api_token.user, api_token, f"token:{api_token.pk}")
        return api_token


class BrowserSessionAuth(APIKeyCookie):
    """The Django session cookie, with Django's CSRF check for unsafe methods.

    Unlike ninja's SessionAuth, a request without a signed-in session is simply not
    authenticated here (401), instead of failing the CSRF check first (403).
    """

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise ApiError(
                403, _("CSRF check failed: send the X-CSRFToken header with the session."), permission="csrf"
            )
        _authenticated(request, user, None, f"user:{user.pk}")
        return user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:  # pragma: no cover - unused
        return None


class SessionOnlyAuth(BrowserSessionAuth):
    """For actions a token must not perform itself, such as minting more tokens."""

    def __call__(self, request: HttpRequest) -> Any:
        if request.headers.get("Authorization"):
            raise ApiError(
                403,
                _("API tokens cannot do this; sign in to the web application instead."),
                permission="session.only",
            )
        return super().__call__(request)


token_auth = TokenAuth()
session_auth = BrowserSessionAuth()
session_only_auth = SessionOnlyAuth()
