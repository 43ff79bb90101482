"""What a monthly close reports: its invoices and credit notes, what it did not bill again and why, and the
same facts as the drafts artifact, the finance approval form and the flow's result read them.

The report holds the month's invoices as a count, their totals and the largest few, not one summary per
invoice: at 200,000 customers a list of summaries alone was 130 MB, held by the flow's result, the artifact and
the approval form, which show totals and the largest drafts only. Every invoice is in the ledger
(`lifecycle show invoices --month M`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import ClassVar

from operations.results import RunResult
from policy.text import markdown_literal, markdown_row
from policy.vocabulary import CloseOutcome


@dataclass
class InvoiceSummary:
    customer_id: str
    name: str
    total_ht: Decimal
    total_vat: Decimal
    total_ttc: Decimal
    number: str | None = None
    due_on: date | None = None


@dataclass
class AlreadyBilled:
    """A customer whose subscription for the close's month (an annual one's: its contract year) an earlier
    invoice billed, wholly or in part: the close bills only the rest."""

    customer_id: str
    name: str
    through: date        # its billed-through day
    invoice: str         # the invoice that billed it through that day (an imported id or a number)
    days: int            # days of the month (year) billed before
    of_days: int

    @property
    def whole(self) -> bool:
        return self.days >= self.of_days

    def sentence(self) -> str:
        rest = "nothing left to bill" if self.whole else f"{self.days} of {self.of_days} days billed before"
        return f"subscription billed through {self.through.isoformat()} by {self.invoice} ({rest})"


#: the customers a sentence of the close names with the invoice that billed them (the artifact lists them all)
NAMED = 5


def _by_which(items: list[AlreadyBilled]) -> str:
    """` (C002 by INV-C002-202610, ...)`: which invoice billed each customer's month already, the first few."""
    if not items:
        return ""
    named = ", ".join(f"{item.customer_id} by {item.invoice}" for item in items[:NAMED])
    more = len(items) - NAMED
    return f" ({named}{f', and {more} more' if more > 0 else ''})"


#: the largest invoices a report keeps (by amount TTC): the drafts artifact shows ten, the approval form five
LARGEST = 10
#: the invoices a report lists in number order (the close's table artifact); beyond them, the ledger's list
LISTED = 1000


@dataclass
class CloseReport:
    month: str
    status: CloseOutcome
    invoices: int = 0    # the month's invoices (drafts, or numbered once finalised), credit notes apart
    total_ht: Decimal = Decimal("0.00")
    total_vat: Decimal = Decimal("0.00")
    total_ttc: Decimal = Decimal("0.00")
    largest: list[InvoiceSummary] = field(default_factory=list)   # the LARGEST invoices, by TTC then customer
    listed: list[InvoiceSummary] = field(default_factory=list)    # the first LISTED invoices, by number
    interventions: int = 0
    late_interventions: int = 0
    issued_on: date | None = None
    credits_applied: dict[str, Decimal] = field(default_factory=dict)  # invoice number -> customer credit applied
    already_billed: list[AlreadyBilled] = field(default_factory=list)
    # money the month owes customers (an annual customer's standby beyond its work): credit notes, not invoices
    credit_notes: list[InvoiceSummary] = field(default_factory=list)
    not_started: int = 0   # customers whose subscription starts after the month: none of its days is billed
    not_billed: list[str] = field(default_factory=list)  # customers left out by this draft, one line each

    @property
    def skipped(self) -> int:
        """Customers whose subscription for the month was not billed because an invoice billed it already."""
        return sum(1 for item in self.already_billed if item.whole)

    def subscription_summary(self) -> str:
        """One sentence on what the close did not bill, and why (empty when it billed every subscription)."""
        parts = []
        if self.already_billed:
            whole = [item for item in self.already_billed if item.whole]
            partly = [item for item in self.already_billed if not item.whole]
            parts.append(f"subscription already billed for {len(whole)} customer(s), not billed again"
                         + _by_which(whole)
                         + (f"; {len(partly)} partly billed, the rest billed{_by_which(partly)}" if partly else ""))
        if self.not_started:
            parts.append(f"{self.not_started} customer(s) not started by {self.month}: no subscription day "
                         f"before a customer's start is billed")
        return "; ".join(parts)

    def credit_notes_sentence(self) -> str:
        """The credit notes of the close: money owed to customers is never an invoice below zero."""
        listed = ", ".join(f"{item.customer_id} {-item.total_ttc} EUR" for item in self.credit_notes)
        return (f"{len(self.credit_notes)} credit note(s), {-sum((item.total_ttc for item in self.credit_notes), Decimal('0.00'))} "
                f"EUR TTC given back (standby days of annual subscriptions): {listed}")

    def _already_billed_markdown(self, limit: int | None = None) -> str:
        """One line per customer: `- C002 Name: subscription billed through 2026-10-31 by INV-C002-202610 (...)`."""
        items = self.already_billed if limit is None else self.already_billed[:limit]
        lines = "\n".join("- " + markdown_literal(f"{item.customer_id} {item.name}: {item.sentence()}")
                          for item in items)
        more = len(self.already_billed) - len(items)
        return lines + (f"\n- …and {more} more (the drafts artifact lists them all)" if more else "")

    def markdown(self, title: str) -> str:
        rows = "\n".join(markdown_row(item.number or "draft", item.customer_id, item.name, item.total_ht,
                                       item.total_vat, item.total_ttc) for item in self.largest)
        return (f"# {title}\n\n"
                f"- month: **{self.month}**, status: **{self.status}**\n"
                f"- invoices: **{self.invoices}**, total HT **{self.total_ht} EUR**, VAT **{self.total_vat} EUR**, "
                f"TTC **{self.total_ttc} EUR**\n"
                f"- interventions priced: {self.interventions} of the month, {self.late_interventions} late ones "
                f"from closed months\n"
                + (f"- issued on {self.issued_on}\n" if self.issued_on else "")
                + (f"- customers' credit applied: **{sum(self.credits_applied.values())} EUR** on "
                   f"{len(self.credits_applied)} invoice(s)\n" if self.credits_applied else "")
                + (f"- {markdown_literal(self.subscription_summary())}\n" if self.subscription_summary() else "")
                + (f"- {markdown_literal(self.credit_notes_sentence())}\n" if self.credit_notes else "")
                + "\n## Largest invoices\n\n| number | customer | name | HT | VAT | TTC |\n|---|---|---|---:|---:|---:|\n"
                + (rows or "| | | no invoice | | | |")
                + (f"\n\n## Subscription already billed (not billed again)\n\n{self._already_billed_markdown()}"
                   if self.already_billed else ""))

    def summary(self) -> dict:
        """What the monthly-close flow returns (Closed, which the command line reads)."""
        return Closed(self.month, self.status, self.invoices, self.total_ht, self.total_vat, self.total_ttc,
                      self.issued_on, subscription_already_billed=self.skipped,
                      subscription_partly_billed=len(self.already_billed) - self.skipped,
                      subscription_not_started=self.not_started, not_billed_again=self.subscription_summary(),
                      credit_notes=len(self.credit_notes),
                      credited_ttc=-sum((item.total_ttc for item in self.credit_notes), Decimal("0.00"))).summary()

    def approval_form(self, drafts_link: str | None) -> str:
        """What finance reads above the approve/refuse form: the month, the totals, the largest drafts."""
        lines = "\n".join(f"- {markdown_literal(f'{item.customer_id} {item.name}')}: {item.total_ht} HT, "
                          f"{item.total_ttc} EUR TTC"
                          for item in self.largest[:5]) or "- no invoice"
        link = f"\n\nEvery draft, line by line: [the drafts artifact]({drafts_link})" if drafts_link else ""
        billed = ""
        if self.already_billed or self.not_started:
            billed = (f"**Already billed before this close**: {markdown_literal(self.subscription_summary())}.\n\n"
                      + (self._already_billed_markdown(limit=20) + "\n\n" if self.already_billed else ""))
        return (f"## Close of {self.month}: {self.invoices} draft invoice(s)\n\n"
                f"**HT {self.total_ht} EUR, VAT {self.total_vat} EUR, TTC {self.total_ttc} EUR**; "
                f"{self.interventions} intervention(s) of the month and {self.late_interventions} late one(s) priced.\n\n"
                f"{billed}"
                + (f"**Credit notes**: {markdown_literal(self.credit_notes_sentence())}.\n\n"
                   if self.credit_notes else "")
                + f"The five largest:\n\n{lines}{link}\n\n"
                "Approving numbers and issues them; refusing discards every draft "
                "and needs a comment.")


@dataclass(frozen=True)
class Closed(RunResult):
    """The monthly-close run's result: the month's invoices and credit notes, in totals."""
    flow: ClassVar[str] = "monthly-close"
    month: str
    status: CloseOutcome
    invoices: int
    total_ht: Decimal
    total_vat: Decimal
    total_ttc: Decimal
    issued_on: date | None
    # customers whose subscription for the month an earlier invoice billed (not billed again), and why
    subscription_already_billed: int
    subscription_partly_billed: int
    subscription_not_started: int
    not_billed_again: str
    credit_notes: int
    credited_ttc: Decimal
    documents_finished: int = 0      # a month closed already: the documents an earlier run left, finished now
    einvoicing: str = ""             # the deposit of French business customers' documents on the e-invoicing platform
