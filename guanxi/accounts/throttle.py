"""Counting sign-in attempts in Django's cache so that guesses stop before the password hasher.

Each limit is a counter that opens a fixed window at its first attempt and closes it
`LOGIN_THROTTLE_WINDOW_SECONDS` later. An attempt *reserves* a slot on every counter before
the password (or one-time code) is checked, so concurrent requests cannot all slip through
between a check and the failure being recorded; a failed attempt keeps its slot, a successful
one gives it back. The cache must be shared by every web process (file cache or Redis).
"""

import hashlib
import ipaddress
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

KEY_PREFIX = "guanxi:throttle"
UNKNOWN_ADDRESS = "unknown"


@dataclass(frozen=True)
class Limit:
    """At most `limit` attempts for one subject (a username, an address, a user) per window."""

    scope: str
    subject: str
    limit: int
    window: int

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}:{self.scope}:{self.subject}"

    @property
    def start_key(self) -> str:
        return f"{self.key}:start"


def _digest(value: str) -> str:
    # Keys carry no raw usernames or addresses and are safe for every cache backend.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def address_subject(address: str | None) -> str:
    """IPv6 clients are counted per /64, which one attacker usually controls entirely."""
    if not address:
        return UNKNOWN_ADDRESS
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return UNKNOWN_ADDRESS
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def window_seconds() -> int:
    return settings.LOGIN_THROTTLE_WINDOW_SECONDS


def login_limits(username: str, address: str | None) -> tuple[Limit, Limit]:
    """Password attempts: per username (case-insensitive) and per client address."""
    window = window_seconds()
    return (
        Limit(
            "login-username",
            _digest(username.strip().casefold()),
            settings.LOGIN_FAILURES_PER_USERNAME,
            window,
        ),
        Limit(
            "login-address", _digest(address_subject(address)), settings.LOGIN_FAILURES_PER_ADDRESS, window
        ),
    )


def otp_limits(user_id: int) -> tuple[Limit]:
    """One-time-code attempts per user, whatever address they come from."""
    limit = getattr(settings, "OTP_FAILURES_PER_USER", 5)
    return (Limit("otp-user", _digest(str(user_id)), limit, window_seconds()),)


def _seconds_left(limit: Limit, now: float) -> int:
    start = cache.get(limit.start_key)
    if start is None:
        return 0
    return max(0, math.ceil(start + limit.window - now))


def _add(limit: Limit, delta: int, now: float) -> int:
    """Add `delta` to the counter (opening its window on the first attempt); returns the new count."""
    if delta > 0:
        cache.add(limit.start_key, now, limit.window)
    left = max(1, _seconds_left(limit, now))
    if delta > 0 and cache.add(limit.key, delta, left):
        return delta
    try:
        count = cache.incr(limit.key, delta)
    except ValueError:  # the window closed between the two calls
        if delta <= 0:
            return 0
        cache.set(limit.key, delta, left)
        return delta
    # Some backends (the file cache) re-set the default timeout on incr; keep the window's end.
    cache.touch(limit.key, left)
    return count


def wait_seconds(limits: Sequence[Limit]) -> int:
    """Seconds until every exhausted limit reopens; 0 when an attempt may go ahead."""
    now = time.time()
    waits = [_seconds_left(limit, now) for limit in limits if cache.get(limit.key, 0) >= limit.limit]
    return max(waits, default=0)


def reserve(limits: Sequence[Limit]) -> int:
    """Count one attempt against every limit. Returns 0 if it may go ahead, else the wait in seconds.

    A refused attempt takes nothing, so a blocked username does not also use up its address's budget.
    """
    wait = wait_seconds(limits)
    if wait:
        return wait
    now = time.time()
    counts = [_add(limit, 1, now) for limit in limits]
    if all(count <= limit.limit for count, limit in zip(counts, limits, strict=True)):
        return 0
    for limit in limits:  # lost a race for the last slot
        _add(limit, -1, now)
    return max(1, wait_seconds(limits))


def release(limits: Sequence[Limit]) -> None:
    """A successful attempt gives its slot back."""
    now = time.time()
    for limit in limits:
        _add(limit, -1, now)


def reset(limits: Sequence[Limit]) -> None:
    for limit in limits:
        cache.delete_many([limit.key, limit.start_key])
