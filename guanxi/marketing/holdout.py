"""Deterministic assignment to a holdout and to A/B groups: a hash of a salt and the customer id, so a
re-run, a retry or another worker puts the same customer in the same group."""

import hashlib
from decimal import Decimal

BUCKETS = 10_000


def bucket(salt: str, customer_id: int) -> int:
    """0 … 9,999, uniform and stable for (salt, customer)."""
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def in_share(salt: str, customer_id: int, percent: Decimal | float | int) -> bool:
    """Whether the customer falls in the first `percent` % of buckets for this salt."""
    return bucket(salt, customer_id) < int(Decimal(str(percent)) * BUCKETS / 100)


def is_held_out(salt: str, customer_id: int, percent: Decimal | float | int) -> bool:
    return in_share(f"holdout:{salt}", customer_id, percent)


def variant(salt: str, customer_id: int, percent_b: Decimal | float | int) -> str:
    return "b" if in_share(f"variant:{salt}", customer_id, percent_b) else "a"


def global_percent(unit_id: int) -> Decimal:
    """The unit's global holdout share (0 when never set)."""
    from guanxi.marketing.models import MarketingSettings

    value = MarketingSettings.objects.filter(unit_id=unit_id).values_list("global_holdout_percent", flat=True)
    return Decimal(value[0]) if value else Decimal(0)


def in_global_holdout(unit_id: int, customer_id: int, percent: Decimal | float | int) -> bool:
    """In the unit's global control group: nothing from any flow or campaign reaches them."""
    return bool(percent) and in_share(f"global:{unit_id}", customer_id, percent)
