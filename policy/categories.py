"""Intervention categories and how each is charged, as data (docs/reference/policy.md "Support quota and categories").

One table, read by the quota engine, the invoice lines, the workbook and the importer alike, so
that adding a category (or a fee) is a one-line change with its source beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policy.terms import Terms


class Charge(StrEnum):
    FREE = "free"              # no charge, uses no quota
    QUOTA = "quota"            # consumes the monthly quota; beyond it billed at the category's rate
    BILLED = "billed"          # always billed, never from the quota
    DISCOUNTED = "discounted"  # billed at the grid times the urgent-feature factor


@dataclass(frozen=True)
class Category:
    charge: Charge
    source: str
    fixed_fee: str | None = None  # the Terms field of a fee charged per intervention, on top of its time
    fee_name: str = ""            # how an invoice line names that fee


CATEGORIES: dict[str, Category] = {
    "bug_fix": Category(Charge.FREE, "000/001: support includes the resolution of bugs"),
    "question": Category(Charge.FREE, "000/001: support includes answers to questions"),
    "feature_roadmap": Category(Charge.FREE, "000: a roadmap feature is integrated free of charge"),
    "assistance": Category(Charge.QUOTA, "000: free assistance within 2h a month, then billed"),
    "data_modification": Category(Charge.QUOTA, "000: manual data modification is billed"),
    "operation_support": Category(Charge.QUOTA, "000: support on running an operation is billed"),
    "data_extraction": Category(Charge.QUOTA, "000: specific data extraction is billed"),
    "reporting": Category(Charge.QUOTA, "000: reporting requests are billed"),
    "user_error": Category(Charge.QUOTA, "002: a bug caused by a user's manipulation is billed"),
    "data_recovery": Category(Charge.BILLED, "000/001: recovery is a heavy operation subject to invoicing",
                              fixed_fee="data_recovery_fee", fee_name="recovery fee"),
    "customization": Category(Charge.BILLED, "002/003: customisation is outside maintenance"),
    "training": Category(Charge.BILLED, "002: training is outside maintenance"),
    "license_installation": Category(Charge.BILLED, "002: licence installation is outside maintenance"),
    "company_copy": Category(Charge.BILLED, "002: company copy is outside maintenance"),
    "third_party_conflict": Category(Charge.BILLED, "003: third-party conflicts are billed"),
    "feature_specific": Category(Charge.BILLED, "000/001: a feature outside the roadmap is billed"),
    "feature_urgent": Category(Charge.DISCOUNTED, "001: an urgent roadmap feature is billed with a 50% discount"),
}

BILLED_CATEGORIES = tuple(name for name, row in CATEGORIES.items() if row.charge is not Charge.FREE)

#: the category of a restore on request, billed by `recovery_minutes` plus its fixed fee
RECOVERY = "data_recovery"


def charged(charge: Charge) -> list[str]:
    """The categories charged one way, in the table's order."""
    return [name for name, row in CATEGORIES.items() if row.charge is charge]


def charge_of(category: str) -> Charge:
    return CATEGORIES[category].charge


def fixed_fee(category: str, terms: Terms) -> Decimal:
    """The fee an intervention of this category bears on top of its time (0 for most)."""
    field = CATEGORIES[category].fixed_fee
    return getattr(terms, field) if field else Decimal("0.00")
