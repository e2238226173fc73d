"""Per-client request limits in fixed one-minute windows, counted in Django's cache.

The client is an API token, or the user for browser-session calls. The cache is shared by
all web processes (file cache embedded, Redis in production), so the limit holds across them.
"""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from guanxi.api.errors import ApiError

WINDOW_SECONDS = 60
# Indirection so tests can pin the clock inside one window.
clock = time.time


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


class RateLimitExceededError(ApiError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            _("Too many requests; try again in %(seconds)d seconds.") % {"seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


def count_request(subject: str) -> RateLimitState:
    """Count one request for `subject` ("token:12", "user:3"); raise RateLimitExceededError over the limit."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    now = clock()
    window = int(now // WINDOW_SECONDS)
    reset_seconds = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
    key = f"guanxi:api-rate:{subject}:{window}"
    cache.add(key, 0, timeout=reset_seconds + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired or evicted between add and incr
        cache.set(key, 1, timeout=reset_seconds + 1)
        count = 1
    if count > limit:
        raise RateLimitExceededError(reset_seconds)
    return RateLimitState(limit=limit, remaining=limit - count, reset_seconds=reset_seconds)


def remember(request: HttpRequest, state: RateLimitState) -> None:
    request.rate_limit = state  # type: ignore[attr-defined]


def headers_for(request: HttpRequest) -> dict[str, str]:
    state = getattr(request, "rate_limit", None)
    return state.headers() if state else {}
