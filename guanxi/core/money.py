"""Money is Decimal with a currency, never float (design.md principle 7)."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def amount_field_kwargs() -> dict:
    """Field arguments shared by every monetary column: up to 999,999,999,999.99."""
    return {"max_digits": 14, "decimal_places": 2, "default": Decimal("0.00")}


def round_money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
