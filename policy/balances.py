"""What is owed: one rule for an invoice's balance and for which invoices anyone is asked to pay.

docs/reference/policy.md "Arrears": disputed and written-off invoices never escalate and penalties never anchor; a
void or written-off invoice has nothing left to pay. `show`, the arrears sweep, the standby rules
and the imports all ask here, so the rule is written once. The sweep's single SQL statement
(operations/arrears.py) applies the same rule for speed and is checked against it
(tests/integration/test_arrears_standings.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Iterable

from policy.vocabulary import InvoiceKind, InvoiceStatus

#: statuses of an invoice nobody is asked to pay: they never anchor, never bear penalties
NOT_OWED = (InvoiceStatus.DRAFT, InvoiceStatus.DISPUTED, InvoiceStatus.WRITTEN_OFF, InvoiceStatus.VOID)
#: statuses that leave nothing to pay at all
NOTHING_LEFT = (InvoiceStatus.VOID, InvoiceStatus.WRITTEN_OFF)
#: kinds of invoice that never drive the escalation (a penalty bears no penalty and anchors nothing; a
#: credit note asks for nothing)
NEVER_ANCHOR = (InvoiceKind.PENALTY, InvoiceKind.CREDIT_NOTE)


def paid(payments: Iterable[tuple[date, Decimal]], on: date | None = None) -> Decimal:
    """What was paid by the end of `on` (everything when `on` is None)."""
    return sum((amount for paid_on, amount in payments if on is None or paid_on <= on), Decimal("0.00"))


def balance(total_ttc: Decimal, status: str, paid_amount: Decimal) -> Decimal:
    """What is left to pay on an invoice (`paid_amount`: everything that settled it, payments and credit
    notes). Never below zero: what was paid beyond is the customer's credit, counted there once."""
    return Decimal("0.00") if status in NOTHING_LEFT else max(total_ttc - paid_amount, Decimal("0.00"))


def counts_for_arrears(kind: str, status: str) -> bool:
    """Whether an unpaid invoice of this kind and status makes its customer late."""
    return kind not in NEVER_ANCHOR and status not in NOT_OWED
