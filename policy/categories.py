"""Intervention categories and how each is charged, as data (DESIGN "Support quota").

One table, read by the quota engine and the importer alike, so that adding a category is a
one-line change with its source beside it.
"""

from __future__ import annotations

from enum import Enum


class Charge(str, Enum):
    FREE = "free"              # no charge, uses no quota
    QUOTA = "quota"            # consumes the monthly quota; beyond it billed at the category's rate
    BILLED = "billed"          # always billed, never from the quota
    DISCOUNTED = "discounted"  # billed at the grid times the urgent-feature factor


CATEGORIES: dict[str, tuple[Charge, str]] = {
    "bug_fix": (Charge.FREE, "000/001: support includes the resolution of bugs"),
    "question": (Charge.FREE, "000/001: support includes answers to questions"),
    "feature_roadmap": (Charge.FREE, "000: a roadmap feature is integrated free of charge"),
    "assistance": (Charge.QUOTA, "000: free assistance within 2h a month, then billed"),
    "data_modification": (Charge.QUOTA, "000: manual data modification is billed"),
    "operation_support": (Charge.QUOTA, "000: support on running an operation is billed"),
    "data_extraction": (Charge.QUOTA, "000: specific data extraction is billed"),
    "reporting": (Charge.QUOTA, "000: reporting requests are billed"),
    "user_error": (Charge.QUOTA, "002: a bug caused by a user's manipulation is billed"),
    "data_recovery": (Charge.BILLED, "000/001: recovery is a heavy operation subject to invoicing"),
    "customization": (Charge.BILLED, "002/003: customisation is outside maintenance"),
    "training": (Charge.BILLED, "002: training is outside maintenance"),
    "license_installation": (Charge.BILLED, "002: licence installation is outside maintenance"),
    "company_copy": (Charge.BILLED, "002: company copy is outside maintenance"),
    "third_party_conflict": (Charge.BILLED, "003: third-party conflicts are billed"),
    "feature_specific": (Charge.BILLED, "000/001: a feature outside the roadmap is billed"),
    "feature_urgent": (Charge.DISCOUNTED, "001: an urgent roadmap feature is billed with a 50% discount"),
}

BILLED_CATEGORIES = tuple(name for name, (charge, _) in CATEGORIES.items() if charge is not Charge.FREE)


def charged(charge: Charge) -> list[str]:
    """The categories charged one way, in the table's order."""
    return [name for name, (kind, _) in CATEGORIES.items() if kind is charge]


def charge_of(category: str) -> Charge:
    return CATEGORIES[category][0]
