"""Masking personal data for people without the PII permission (138****5678, z***@example.com)."""

import re

PHONE_DIGITS = re.compile(r"\d")


def mask_phone(value: str) -> str:
    """Keep the first three and last four digits of a mobile number: +8613812345678 → 138****5678."""
    digits = "".join(PHONE_DIGITS.findall(value or ""))
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_email(value: str) -> str:
    local, at, domain = (value or "").partition("@")
    if not at:
        return mask_text(value)
    return f"{local[:1]}***@{domain}"


def mask_text(value: str) -> str:
    """Generic identifier or name: first character, then stars (张** / w***)."""
    value = value or ""
    if len(value) <= 1:
        return "*" * len(value)
    return value[0] + "*" * min(len(value) - 1, 3)


def mask_value(value: str, kind: str = "") -> str:
    """Mask by kind ("phone", "email", anything else); guesses the kind when not given."""
    if not value:
        return ""
    if kind == "phone" or (not kind and len(PHONE_DIGITS.findall(value)) >= 7 and "@" not in value):
        return mask_phone(value)
    if kind == "email" or (not kind and "@" in value):
        return mask_email(value)
    return mask_text(value)
