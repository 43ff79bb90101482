"""Notices to customers as templates that take the terms: a changed threshold changes the text.

A notice belongs to the rule that sends it (an arrears stage, a standby state) and is written once,
with `{placeholders}` for the facts of the day (the customer's name, dates, amounts) and for the
policy's numbers in words (`{admin_after}` is "1 month" with the default terms). Rendering fails
on a placeholder nobody provides: a notice never goes out with a hole in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from policy.terms import Terms


@dataclass(frozen=True)
class NoticeTemplate:
    kind: str      # what the ledger records it as (one notice per kind and event)
    subject: str
    body: str

    def render(self, terms: Terms, **facts) -> tuple[str, str]:
        values = {**terms_in_words(terms), **facts}
        return self.subject.format_map(values), self.body.format_map(values)


def months(count: int) -> str:
    return f"{count} month" + ("" if count == 1 else "s")


def percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


def terms_in_words(terms: Terms) -> dict[str, str]:
    """The policy's numbers as a notice says them."""
    return {
        "admin_after": months(terms.admin_disabled_after_months),
        "platform_after": months(terms.platform_disabled_after_months),
        "deletion_after": months(terms.data_deleted_after_months),
        "deletion_notice_days": f"{terms.deletion_notice_days} days",
        "penalty_rate": percent(terms.late_penalty_rate),
        "indemnity": f"{terms.late_indemnity} EUR",
        "standby_price": percent(terms.standby_price_factor),
        "standby_max": months(terms.standby_max_months),
        "standby_warning_days": f"{terms.standby_expiry_notice_days} days",
    }
