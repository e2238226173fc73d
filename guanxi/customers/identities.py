"""Normalising identity values, and refusing the ones that identify nobody.

A strong identity (phone, email, WeChat unionid, platform id) makes two records the same
person, so a masked value (138****5678), a placeholder (00000000000, test@test.com) or a
typing exercise (12345678901) must never become one: it would merge strangers.
"""

import re
from dataclasses import dataclass
from itertools import pairwise

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from guanxi.customers.models import Identity

DEFAULT_REGION = "CN"

MASK_CHARACTERS = re.compile(r"[*＊•●]|(?:x{3,})", re.IGNORECASE)
PLACEHOLDER_PHONES = frozenset({"13800138000", "13900139000", "18888888888", "4001234567"})
# Reserved (RFC 2606/6761) or habitually typed-in domains that never reach a person.
PLACEHOLDER_EMAIL_DOMAINS = frozenset(
    {
        "example.com",
        "example.org",
        "example.net",
        "example.cn",
        "test.com",
        "test.cn",
        "test.org",
        "localhost",
        "email.com",
        "domain.com",
        "xxx.com",
        "qq.co",
        "none.com",
        "noemail.com",
    }
)
PLACEHOLDER_EMAIL_TLDS = frozenset({"test", "example", "invalid", "localhost", "local"})
PLACEHOLDER_EMAIL_LOCALS = frozenset({"test", "none", "null", "noreply", "no-reply", "nobody", "xxx", "abc"})
DIGITS = "0123456789"


@dataclass(frozen=True)
class IdentityKey:
    """What makes an identity unique: its kind, namespace and normalised value."""

    kind: str
    namespace: str
    value: str


def is_masked(value: str) -> bool:
    """A value with stars or a run of x's in it was redacted by the platform that exported it."""
    return bool(MASK_CHARACTERS.search(value or ""))


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """E.164 (+8613812345678), or None when the value is masked, invalid or a placeholder."""
    value = (raw or "").strip()
    if not value or is_masked(value):
        return None
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7 or _is_fake_digits(digits):
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    national = str(number.national_number)
    if _is_fake_digits(national) or national in PLACEHOLDER_PHONES:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _is_fake_digits(digits: str) -> bool:
    if len(set(digits)) == 1:
        return True
    # 12345678901, 98765432109: every step the same +1 or -1 (wrapping at ten).
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(digits)}
    return steps in ({1}, {9})


def normalise_email(raw: str) -> str | None:
    """Trimmed and lower-cased, or None when not an address or a placeholder (test@test.com)."""
    value = (raw or "").strip().lower()
    if not value or is_masked(value):
        return None
    try:
        validate_email(value)
    except ValidationError:
        return None
    local, _, domain = value.rpartition("@")
    if domain in PLACEHOLDER_EMAIL_DOMAINS or domain.rsplit(".", 1)[-1] in PLACEHOLDER_EMAIL_TLDS:
        return None
    if local in PLACEHOLDER_EMAIL_LOCALS and domain.split(".", 1)[0] in {"test", "example", "xxx", "abc"}:
        return None
    if set(local) <= set(DIGITS) and _is_fake_digits(local):
        return None
    return value


def normalise_identity(kind: str, raw: str, region: str = DEFAULT_REGION) -> str | None:
    """The canonical value of an identity of `kind`, or None when it must not become an identity."""
    if kind == Identity.Kind.PHONE:
        return normalise_phone(raw, region)
    if kind == Identity.Kind.EMAIL:
        return normalise_email(raw)
    value = (raw or "").strip()
    max_length = Identity._meta.get_field("value").max_length
    if not value or is_masked(value) or (max_length is not None and len(value) > max_length):
        return None
    if len(set(value)) == 1 and value[0] in "0-_.":
        return None
    return value


def identity_key(
    kind: str, raw: str, namespace: str = "", region: str = DEFAULT_REGION
) -> IdentityKey | None:
    value = normalise_identity(kind, raw, region)
    return IdentityKey(kind, namespace, value) if value is not None else None
