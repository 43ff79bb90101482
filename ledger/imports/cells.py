"""Cell parsers: a raw cell (CSV text or an XLSX value) to a typed value, or ValueError with the reason
a user reads at `file:row:column`."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

from ledger.readers import as_text
from policy.calendar import PARIS, NonexistentLocalTime, paris_instant, parse_day, parse_moment
from policy.digits import digits_problem, sign_or_zeros_problem
from policy.ids import id_problem
from policy.text import LINE_BREAKS, character_name, control_problem, quoted
from policy.money import parse_amount
from policy.vat import vat_rate_problem


class CellRefused(ValueError):
    """A cell that breaks several rules: the import says the first (one line per cell), `lifecycle db check`
    every one (`reasons`)."""

    def __init__(self, reasons: list[str]):
        super().__init__(reasons[0])
        self.reasons = reasons


def text(max_length: int, *, lines: bool = False, printed: bool = False) -> Callable[[Any], str]:
    """Text of at most `max_length` characters, without control characters; one line unless `lines`; `printed`
    (an invoice or credit note prints it): only characters the documents' font draws."""
    def parse(value: Any) -> str:
        result = as_text(value)
        reasons = [f"longer than {max_length} characters"] if len(result) > max_length else []
        problem = control_problem(result, lines=lines, printed=printed)
        if problem:
            reasons.append(problem)
        if reasons:
            raise CellRefused(reasons)
        return result

    return parse


def identifier(value: Any) -> str:
    """An id of the one grammar (policy.ids): it becomes keys, paths and mail headers. A spreadsheet's date cell
    (an id the spreadsheet took for a date) is said to be one, with its value."""
    if isinstance(value, (date, datetime)):
        raise ValueError(f"not an id: the cell is a date ({as_text(value)}); format the column as text and type "
                         f"the id again")
    result = as_text(value)
    problem = id_problem(result)
    if problem:
        raise ValueError(problem)
    return result


#: an address's local part: dot-separated runs of the characters RFC 5322 allows unquoted (`a.b+tag`)
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
#: a domain name: two labels or more of letters, digits and inner hyphens, the last one no number (`ex.com`,
#: `mail.xn--bcher-kva.example`); an address literal (`[127.0.0.1]`) is no customer's mailbox
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})")


def email(value: Any) -> str:
    """One address, as every mail server takes it: `local@domain` in ASCII (RFC 5321's dot-atom: no space,
    no quote, no `..`, no leading or trailing dot; a domain name, never an address literal). The same rule
    for every address the product reads; a name in another script is written as its IDNA form (xn--)."""
    result = as_text(value)
    local, _, domain = result.rpartition("@")
    if len(result) > 254 or len(local) > 64 or not _LOCAL.fullmatch(local) or not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not an email address: {quoted(result)}")
    return result


def siren(value: Any) -> str:
    """A French company's SIREN (9 digits) or SIRET (14), spaces allowed, checked by its key (Luhn)."""
    from stdnum.fr import siren as siren_number, siret as siret_number

    result = "".join(as_text(value).split())
    problem = digits_problem(result)
    if problem:
        raise ValueError(f"not a SIREN (9 digits) or SIRET (14 digits): {problem}")
    if not (result.isascii() and result.isdigit()) or len(result) not in (9, 14):
        raise ValueError(f"not a SIREN (9 digits) or SIRET (14 digits): {quoted(result)}")
    if not (siren_number if len(result) == 9 else siret_number).is_valid(result):
        raise ValueError(f"{result} is not a valid {'SIREN' if len(result) == 9 else 'SIRET'} (its check digit is wrong)")
    return result


def vat_number(value: Any) -> str:
    """An EU intra-community VAT number (FR40123456789), checked by its country's rule."""
    from stdnum.eu import vat

    result = "".join(as_text(value).split()).upper()
    problem = digits_problem(result)
    if problem:
        raise ValueError(f"not a valid EU VAT number: {problem}")
    if not vat.is_valid(result):
        raise ValueError(f"not a valid EU VAT number: {quoted(result)}")
    return result


def address(value: Any) -> str:
    """A postal address: lines separated by line breaks or ' / ', the last one '<postcode> <city>' (a
    country code of two letters may follow on a line of its own); at most 6 lines of 100 characters."""
    import re

    lines = [line.strip() for line in re.split(r"\r?\n| / ", as_text(value)) if line.strip()]
    # the character first, named as every other field names it: a vertical tab, a lone carriage return or a
    # U+2028 splits no address line (only a line break U+000A or ` / ` do) and read as a wrong count of lines
    for number, line in enumerate(lines, start=1):
        problem = control_problem(line, printed=True)  # every address is printed
        if problem and problem.startswith("holds a line break"):
            position, char = next((position, char) for position, char in enumerate(line, start=1)
                                  if char in LINE_BREAKS)
            kind = "control character" if ord(char) < 32 or 0x7F <= ord(char) <= 0x9F else "line separator"
            problem = (f"holds the {kind} {character_name(char)} (at character {position}): separate an "
                       f"address's lines with a line break (U+000A) or ' / '")
        if problem:
            raise ValueError(f"an address holds no control or invisible character: its line {number} {problem}")
    if not 2 <= len(lines) <= 6 or any(len(line) > 100 for line in lines):
        raise ValueError("an address is 2 to 6 lines of at most 100 characters (street, then postcode and city)")
    return "\n".join(lines)


def money(value: Any) -> Decimal:
    amount = parse_amount(as_text(value))
    if amount < 0:
        raise ValueError(f"must not be negative: {as_text(value)}")
    return amount


def monthly_fee(value: Any) -> Decimal:
    """A customer's monthly fee: an amount of at most FEE_INTEGER_DIGITS integer digits, so that the largest
    invoice a close can compute from it fits the ledger (policy.invoicing.FEE_BOUND says why)."""
    from policy.invoicing import FEE_BOUND, FEE_INTEGER_DIGITS

    text = as_text(value)
    try:
        amount = parse_amount(text, integer_digits=FEE_INTEGER_DIGITS)
    except ValueError as error:
        if "digits before the decimal point" in str(error):
            raise ValueError(f"a monthly fee is at most {FEE_BOUND} EUR (the largest invoice billed from it must fit "
                             f"the ledger): {quoted(text)} is more") from None
        raise
    if amount < 0:
        raise ValueError(f"must not be negative: {text}")
    return amount


def positive_money(value: Any) -> Decimal:
    amount = money(value)
    if amount == 0:
        raise ValueError("must be greater than zero")
    return amount


def rate(value: Any) -> Decimal:
    result = parse_amount(as_text(value), places=4)
    if not Decimal(0) <= result <= Decimal(1):
        raise ValueError(f"a rate is between 0 and 1 (0.20 for 20 %), not {as_text(value)}")
    return result


def vat_rate(value: Any) -> Decimal:
    """A rate that is a VAT rate: below 1 (policy.vat)."""
    result = rate(value)
    problem = vat_rate_problem(result, as_text(value).strip())
    if problem:
        raise ValueError(problem)
    return result


def whole(minimum: int, maximum: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"not a whole number: {value!r}")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        raw = as_text(value).strip()
        problem = digits_problem(raw)
        if problem:
            raise ValueError(problem)
        digits = raw[1:] if raw[:1] in "+-" else raw   # one sign at most: `+-30` is no number
        if not raw.isascii() or not digits.isdigit() or len(digits) > 18:
            if maximum is not None and digits.isdigit():
                shown = raw if len(raw) <= 40 else f"{raw[:20]}… ({len(digits):,} digits)"
                raise ValueError(f"must be at most {maximum}, not {shown}")
            raise ValueError(f"not a whole number: {quoted(as_text(value))}")
        problem = sign_or_zeros_problem(raw, negative=minimum < 0)  # the one rule: no `+5`, `-0`, `007`
        if problem:
            raise ValueError(problem)
        result = int(raw)
        if result < minimum:
            raise ValueError(f"must be at least {minimum}, not {result}")
        if maximum is not None and result > maximum:
            raise ValueError(f"must be at most {maximum}, not {result}")
        return result

    return parse


class DateOutOfRange(ValueError):
    """A date too extreme to compute with at all (0001-01-01 in Paris is in year 0 in UTC); the import says
    which window dates lie in (policy.window), as it does for any date outside it."""

    def __init__(self, local: datetime):
        super().__init__(f"{local.isoformat()} lies outside the dates accepted here")
        self.local = local


def day(value: Any) -> date:
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise ValueError(f"a date without time is expected, not {value.isoformat()}")
        return value.date()
    if isinstance(value, date):
        return value
    return parse_day(as_text(value))  # YYYY-MM-DD in digits 0-9, nothing else ISO 8601 allows (20261101, 2026-W01-1)


def shown(value: Any) -> str:
    """A value as an error line gives it back: a moment in Paris time, as the file is read (the ledger keeps it
    in UTC, which nobody typed), a day in ISO, anything else as its text."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(PARIS).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(getattr(value, "value", value))


def instant(value: Any) -> datetime:
    """ISO 8601; without an offset (and every XLSX date-time) it is Paris time."""
    if isinstance(value, datetime):
        local = value
    elif isinstance(value, date):
        local = datetime(value.year, value.month, value.day)
    else:
        local = parse_moment(as_text(value), what="an ISO 8601 date-time")
    try:
        return paris_instant(local)
    except NonexistentLocalTime as error:
        raise ValueError(str(error)) from None
    except OverflowError:  # year 1 or 9999 moved across time zones: told with the window, never a traceback
        raise DateOutOfRange(local) from None


BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False,
            "oui": True, "non": False, "y": True, "n": False}


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    result = BOOLEANS.get(as_text(value).lower())
    if result is None:
        raise ValueError(f"not a yes/no value (true/false): {quoted(as_text(value))}")
    return result


def choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        result = as_text(value).lower()
        if result not in allowed:
            raise ValueError(f"must be one of {'/'.join(allowed)}, not {quoted(as_text(value))}")
        return result

    return parse
