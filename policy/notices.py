"""Notices to customers as templates that take the terms: a changed threshold changes the text.

A notice belongs to the rule that sends it (an arrears stage, a standby state) and is written once,
in English, with `{placeholders}` for the facts of the day (the customer's name, dates, amounts) and
for the policy's numbers in words (`{admin_after}` is "1 month" with the default terms). It is sent
in the customer's language: the template is looked up in that language's catalogue
(policy.language), and the facts are written as its locale writes them (a date, an amount in euros).
Rendering fails on a placeholder nobody provides, and on a template the catalogue lacks: a notice
never goes out with a hole in it, nor in a language the customer does not read.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from policy.language import Language, N_, speak
from policy.terms import Terms


@dataclass(frozen=True)
class NoticeTemplate:
    kind: str      # what the ledger records it as (one notice per kind and event)
    subject: str   # English, marked with N_ where it is written: the catalogues translate it
    body: str

    def render(self, terms: Terms, language: str, **facts) -> tuple[str, str]:
        """(subject, body) in `language` (`fr` or `en`)."""
        words = speak(language)
        values = {**terms_in_words(terms, words), **{name: words.fact(value) for name, value in facts.items()}}
        return words.template(self.subject).format_map(values), words.template(self.body).format_map(values)


def percent(rate: Decimal) -> str:
    """A rate in an ops message ("20 %"); a customer's text uses `Language.percent`."""
    return f"{(rate * 100).normalize():f} %"


def months(count: int, words: Language) -> str:
    return words.say_n("{count} month", "{count} months", count)


def days(count: int, words: Language) -> str:
    return words.say_n("{count} day", "{count} days", count)


def duration(months_count: int, days_count: int, words: Language) -> str:
    """"5 months and 6 days", "6 months", "12 days": an elapsed time as it is, never rounded."""
    if not months_count:
        return days(days_count, words)
    if not days_count:
        return months(months_count, words)
    return words.say("{months} and {days}", months=months(months_count, words), days=days(days_count, words))


def terms_in_words(terms: Terms, words: Language) -> dict[str, str]:
    """The policy's numbers as a notice says them, in the notice's language."""
    return {
        "admin_after": months(terms.admin_disabled_after_months, words),
        "platform_after": months(terms.platform_disabled_after_months, words),
        "deletion_after": months(terms.data_deleted_after_months, words),
        "deletion_notice_days": days(terms.deletion_notice_days, words),
        "penalty_rate": words.percent(terms.late_penalty_rate),
        "indemnity": words.money(terms.late_indemnity),
        "standby_price": words.percent(terms.standby_price_factor),
        "standby_max": months(terms.standby_max_months, words),
        "standby_warning_days": days(terms.standby_expiry_notice_days, words),
        "invoice_retention": words.say_n("{count} year", "{count} years", terms.invoice_retention_years),
    }


__all__ = ["NoticeTemplate", "N_", "terms_in_words", "months", "days", "duration", "percent"]
