"""Money: `Decimal` euros, rounded half-up to the cent, once, where DESIGN says."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_amount(text: str, *, places: int = 2) -> Decimal:
    """A decimal written with a dot or a French comma, refused when it has more places than allowed."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a number: {text!r}")
    if -value.as_tuple().exponent > places and value != value.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(f"{text!r} has more than {places} decimal places")
    return value.quantize(Decimal(1).scaleb(-places))


def vat_of(amount_ht: Decimal, rate: Decimal) -> Decimal:
    return cents(amount_ht * rate)
