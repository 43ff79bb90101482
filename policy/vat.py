"""Which VAT rates are plausible: the one bound the imports, the terms block, `lifecycle db check` and the
invoice documents share.

A VAT rate is a share of the price, from 0 (exempt, or outside the scope) up to but excluding 1: French rates
are 0, 2.1 %, 5.5 %, 10 % and 20 %, and a rate of 100 % is no VAT rate but a mistyped `20` or `1` for "yes".
The documents (EN 16931) cannot carry such a rate; were it let in, every invoice of the month after it would
wait for it, so it is refused where it enters.
"""

from __future__ import annotations

from decimal import Decimal

#: a VAT rate is below this (0.20 for 20 %)
VAT_RATE_LIMIT = Decimal(1)


def vat_rate_problem(rate: Decimal, shown: str | None = None) -> str | None:
    """Why `rate` is no VAT rate (None when it is one); `shown`: the rate as its user wrote it."""
    if rate < 0 or rate >= VAT_RATE_LIMIT:
        return (f"a VAT rate is from 0 to less than 1 (0.20 for 20 %; French rates 0, 0.021, 0.055, 0.10, 0.20), "
                f"not {rate if shown is None else shown}")
    return None
