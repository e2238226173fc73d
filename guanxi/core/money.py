"""Money is Decimal with a currency, never float (design.md principle 7)."""

from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

CENT = Decimal("0.01")


def amount_field_kwargs() -> dict:
    """Field arguments shared by every monetary column: up to 999,999,999,999.99."""
    return {"max_digits": 14, "decimal_places": 2, "default": Decimal("0.00")}


def round_money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def validate_currency(value: str) -> None:
    """An ISO 4217 code: three capital letters (CNY, HKD, USD)."""
    if not (len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()):
        raise ValidationError(
            _("“%(value)s” is not a currency code; use three capital letters such as CNY."),
            code="invalid",
            params={"value": value[:16]},
        )
