"""Money: `Decimal` euros, rounded half-up to the cent, once, where docs/reference/policy.md says."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from policy.digits import digits_problem, sign_or_zeros_problem
from policy.text import quoted

CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


#: digits 0-9 only: `\d` and Decimal() also take other scripts' digits (`٣.00`, `１００.00`)
_PLAIN = re.compile(r"[+-]?([0-9]+)(?:[.,]([0-9]+))?")


def parse_amount(text: str, *, places: int = 2, integer_digits: int = 12, negative: bool = False) -> Decimal:
    """A plain decimal, with a dot or a French comma (`12.50`, `12,50`): no exponent, no thousands
    separator, no sign (a `-` where `negative`), no leading zero (policy.digits), at most `integer_digits`
    before the separator and `places` after it (the ledger keeps Numeric(14, 2): 12 and 2). Anything else is
    refused with the reason, never rounded or overflowed. A third decimal is refused even when it is a zero:
    `1.000` and `2,500` are a thousand and two thousand five hundred as the US and Germany write them, never
    1.00 and 2.50. (An .xlsx number cell reaches here as its shortest text, `12.5` for 12.500: only what was
    typed as text is judged by its digits.)"""
    cleaned = text.strip()
    problem = digits_problem(cleaned)
    if problem:
        raise ValueError(f"not a plain decimal: {problem}")
    match = _PLAIN.fullmatch(cleaned)
    if match is None:
        if _looks_numeric(cleaned):
            raise ValueError(f"not a plain decimal (like 1234.50, no exponent or thousands separator): {quoted(text)}")
        raise ValueError(f"not a number: {quoted(text)}")
    problem = sign_or_zeros_problem(cleaned, negative=negative)
    if problem:
        raise ValueError(problem)
    whole, fraction = match.group(1).lstrip("0") or "0", match.group(2) or ""
    if len(whole) > integer_digits:
        raise ValueError(f"{quoted(text)} has more than {integer_digits} digits before the decimal point")
    if len(fraction) > places:
        raise ValueError(f"{quoted(text)} has more than {places} decimal places")
    return Decimal(cleaned.replace(",", ".")).quantize(Decimal(1).scaleb(-places))


def _looks_numeric(text: str) -> bool:
    """A number written another way (1e3, 1 000,00, 1.000,50): worth a more precise refusal."""
    try:
        return Decimal(text.replace("\u00a0", "").replace(" ", "").replace(",", ".")).is_finite()
    except InvalidOperation:
        return any(char.isdigit() for char in text) and not any(char.isalpha() and char not in "eE" for char in text)


def vat_of(amount_ht: Decimal, rate: Decimal) -> Decimal:
    return cents(amount_ht * rate)
