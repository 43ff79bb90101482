"""Corrections of issued invoices: what a credit note holds, and where its money goes.

An issued invoice never changes (gapless numbers, ten years of retention): a correction is a credit
note, a document of its own that names the invoice it credits and carries negative amounts. Finance
credits either whole lines of the invoice (`--lines`: the same lines, negated) or an amount TTC
(`--amount`: one line at the invoice's VAT rate, whose HT is chosen so that HT + VAT is exactly the
amount asked; VAT rounded to the cent makes about one amount in six unreachable at 20 %, and
finance is told the two nearest that are). Together, the credit notes of an invoice never credit more
than its total TTC, not even by a cent: each document rounds its own VAT (two lines of 10.03 HT make
24.07 TTC together, 12.04 each), so the second of those lines credited whole in a note of its own would
pass what is left (12.03) by a cent; that note is refused, and what is left is credited by amount
(12.02 and 0.01 at 20 %: VAT rounded to the cent makes 12.03 unreachable in one note).

A credit note first lowers what is left to pay on its invoice; what the customer had already paid
beyond that becomes the customer's credit, which finance applies at the next close or refunds
(seed 003: "if you pay accidentally twice, we will refund your extra payment").
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from policy.invoicing import NO_VAT, Line, Totals, totals
from policy.money import CENT, cents
from policy.language import speak
from policy.notices import percent
from policy.refusals import Refusal
from policy.text import control_problem

ZERO = Decimal("0.00")


class CorrectionRefused(Refusal, ValueError):
    """A correction that cannot be made as asked; the message says why, in one line, and `about` names
    what was wrong (`invoice`, `amount`, `lines`, `reason`, `customer`): an import points at that column."""

    def __init__(self, message: str, about: str = "amount"):
        super().__init__(message)
        self.about = about


@dataclass(frozen=True)
class Split:
    """Where money that settles goes: onto the invoice's balance, and the rest to the customer's credit."""

    to_invoice: Decimal
    to_credit: Decimal


def settle(amount: Decimal, balance: Decimal) -> Split:
    """`amount` (>= 0) settles at most what is left to pay (`balance`, never below zero); the rest is credit."""
    to_invoice = min(amount, max(balance, ZERO))
    return Split(to_invoice, amount - to_invoice)


#: what a bank does not tell apart in a reference: separators (Z), punctuation with every dash (P), controls
#: and format characters (C), math and modifier symbols (Sm: + | ~ < U+2212 minus; Sk: ^ ` U+02D7 modifier
#: minus) and combining marks (Mn, Me: an accent, an underline U+0332)
IGNORED_IN_REFERENCES = ("Z", "P", "C", "Sm", "Sk", "Mn", "Me")


def reference_key(reference: str) -> str:
    """The form under which two bank references are one transfer: NFKD (a full-width or a ligature letter is
    the plain one, an accent comes apart from its letter), case folded, without what `IGNORED_IN_REFERENCES`
    names, every decimal digit as its ASCII one (U+0667 ARABIC-INDIC DIGIT SEVEN is 7). `BANK-77`, `bank-77`,
    `BANK 77`, `BANK\u201177` (a non-breaking hyphen), `BANK\u221277` (a minus sign), `BANK+77` and
    `BANK-\u0667\u0667` are one reference, `bank77`."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", reference).casefold())
    return "".join(str(unicodedata.decimal(char)) if unicodedata.decimal(char, None) is not None else char
                   for char in folded if not unicodedata.category(char).startswith(IGNORED_IN_REFERENCES))


def left_to_credit(total_ttc: Decimal, credited_ttc: Decimal) -> Decimal:
    """What later credit notes may still credit on an invoice of `total_ttc` already credited `credited_ttc`
    (a positive sum of the earlier credit notes' totals)."""
    return max(total_ttc - credited_ttc, ZERO)


def vat_rate_of(lines: list[Line]) -> Decimal:
    """The one VAT rate an amount credit uses: the rate of the invoice's taxed lines (0 when none is taxed)."""
    rates = {line.vat_rate for line in lines if line.category not in NO_VAT}
    if len(rates) > 1:
        listed = ", ".join(percent(rate) for rate in sorted(rates))
        raise CorrectionRefused(f"the invoice has lines at several VAT rates ({listed}): credit whole lines (--lines)",
                                "invoice")
    return rates.pop() if rates else Decimal("0")


def amount_line(amount_ttc: Decimal, rate: Decimal, description: str, most: Decimal | None = None) -> Line:
    """One negative line at `rate` whose HT plus its VAT (rounded half-up, as every invoice) is `amount_ttc`;
    refused, naming the nearest amounts that are, when none is (never one past `most`, what is left)."""
    if amount_ttc <= ZERO or amount_ttc != cents(amount_ttc):
        raise CorrectionRefused(f"{amount_ttc}: a credit is a positive amount in cents")
    guess = cents(amount_ttc / (1 + rate))
    for ht in (guess, guess - CENT, guess + CENT):
        if ht + cents(ht * rate) == amount_ttc:
            return Line(description, "correction", Decimal(1), -ht, -ht, rate)
    # VAT rounded to the cent skips some amounts (at 20 %, HT 0.02 and 0.03 make 0.02 and 0.04 TTC)
    below = next(ht + cents(ht * rate) for ht in (guess, guess - CENT, guess - 2 * CENT) if ht + cents(ht * rate) < amount_ttc)
    above = next(ht + cents(ht * rate) for ht in (guess, guess + CENT, guess + 2 * CENT) if ht + cents(ht * rate) > amount_ttc)
    if most is not None and above > most:
        raise CorrectionRefused(f"at {percent(rate)} VAT rounded to the cent, no amount HT makes exactly {amount_ttc} "
                                f"TTC: credit {below} TTC, then the rest ({amount_ttc - below}) in another note")
    raise CorrectionRefused(f"at {percent(rate)} VAT rounded to the cent, no amount HT makes exactly {amount_ttc} "
                            f"TTC: credit {below} or {above} TTC")


def amount_line_within(most: Decimal, rate: Decimal, description: str) -> Line:
    """The negative line at `rate` giving back as much as VAT rounded to the cent can make without passing
    `most` (> 0): `most` itself when some HT makes it, else the nearest below (12.02 for 12.03 at 20 %)."""
    if most <= ZERO or most != cents(most):
        raise CorrectionRefused(f"{most}: a credit is a positive amount in cents")
    guess = cents(most / (1 + rate))
    for ht in (guess + CENT, guess, guess - CENT, guess - 2 * CENT, guess - 3 * CENT):
        if ZERO < ht and ht + cents(ht * rate) <= most:
            return Line(description, "correction", Decimal(1), -ht, -ht, rate)
    raise CorrectionRefused(f"{most} TTC: no amount at {percent(rate)} VAT gives back a cent of it")


def credited_lines(lines: list[Line], positions: list[int], credited: frozenset[int] = frozenset(),
                   language: str = "fr") -> list[Line]:
    """Whole lines of the invoice (1-based positions as `show invoices` lists them), negated, their texts
    prefixed in the customer's `language` (« Avoir : … »); a line an earlier note credited whole (`credited`)
    is refused: crediting it again would credit money never billed."""
    if not positions:
        raise CorrectionRefused("--lines: name at least one line", "lines")
    if len(set(positions)) != len(positions):
        raise CorrectionRefused(f"--lines: a line is named twice ({','.join(map(str, positions))})", "lines")
    outside = [position for position in positions if not 1 <= position <= len(lines)]
    if outside:
        raise CorrectionRefused(f"--lines: the invoice has lines 1 to {len(lines)}, not {outside[0]}", "lines")
    again = sorted(set(positions) & credited)
    if again:
        raise CorrectionRefused(f"--lines: line {again[0]} was credited by an earlier credit note already", "lines")
    words = speak(language)
    return [Line(words.say("Credit: {description}", description=line.description), line.category, line.quantity,
                 -line.unit_price, -line.amount_ht, line.vat_rate, line.service_month)
            for line in (lines[position - 1] for position in positions)]


def credit_note_text(reason: str, language: str) -> str:
    """The text of a credit note's line made from an amount, in the customer's language (the reason is
    finance's own words)."""
    return speak(language).say("Credit: {reason}", reason=reason.strip())


def credit_note(lines: list[Line], total_ttc: Decimal, credited_ttc: Decimal, *, positions: list[int] | None = None,
                amount: Decimal | None = None, reason: str, credited: frozenset[int] = frozenset(),
                language: str = "fr") -> tuple[list[Line], Totals]:
    """The lines and totals (negative) of a credit note on an invoice, refused past what is left to credit
    and on lines credited whole already (`credited`: their positions); with `positions`, the lines come
    in their order (with their texts as the invoice had them). `language`: the customer's, for the line
    an amount makes."""
    if (positions is None) == (amount is None):
        raise CorrectionRefused("say what to credit: either --lines or --amount", "lines")
    if not reason.strip():
        raise CorrectionRefused("--reason: a credit note says why it is issued", "reason")
    problem = control_problem(reason.strip(), printed=True)
    if problem:  # printed on the credit note and its mail: one line of plain text
        raise CorrectionRefused(f"--reason {problem}", "reason")
    left = left_to_credit(total_ttc, credited_ttc)
    if left == ZERO:
        raise CorrectionRefused(f"nothing is left to credit: the invoice's {total_ttc} TTC are credited already")
    if amount is not None:
        if amount > left:   # what was billed and not credited yet, to the cent: never more
            raise CorrectionRefused(f"this credit note would credit {amount} TTC; only {left} TTC are left to credit "
                                    f"(invoice {total_ttc}, credited already {credited_ttc})")
        made = [amount_line(amount, vat_rate_of(lines), credit_note_text(reason, language), most=left)]
    else:
        made = credited_lines(lines, positions or [], credited, language)
    sums = totals(made)
    if -sums.ttc <= left:
        return made, sums
    # VAT is rounded per document: whole lines credited in notes of their own can add up to a cent per rate more
    # than the invoice's VAT; never credited beyond its TTC, the note that would pass it by that cent is refused,
    # and says how to credit what is left (the cent would have been money never billed, given as credit)
    past = -sums.ttc - left
    if amount is None and past <= CENT * len({line.vat_rate for line in made}):
        raise CorrectionRefused(f"crediting these lines whole would credit {-sums.ttc} TTC (VAT rounded on this note "
                                f"alone), {past} more than the {left} TTC left to credit on the invoice (invoice "
                                f"{total_ttc}, credited already {credited_ttc}): credit what is left with --amount")
    raise CorrectionRefused(f"this credit note would credit {-sums.ttc} TTC; only {left} TTC are left to credit "
                            f"(invoice {total_ttc}, credited already {credited_ttc})")
