"""Numbers from outside are written with the digits 0-9: Python's int(), Decimal() and `\\d` also read
Arabic-Indic (٣), Devanagari (३) or full-width (３) digits, so every parser of the product refuses them with
the reason ("write digits 0-9"), never reads them as another number or stores them as another text."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from ledger.imports import cells
from lifecycle_config import clock
from policy.calendar import parse_day, parse_moment, parse_month
from policy.digits import digits_problem, other_digits, parse_whole
from policy.money import parse_amount

ARABIC_MONTH, DEVANAGARI_MONTH = "٢٠٢٦-١١", "२०२६-११"


def test_other_digits_are_named_with_their_unicode_name():
    assert other_digits("2026-11") == [] and digits_problem("2026-11") is None
    assert other_digits("٣٠٣") == ["٣", "٠"]
    assert digits_problem("٣٠") == "write digits 0-9: '٣٠' holds '٣' (arabic-indic digit three)"
    assert digits_problem("３０") == "write digits 0-9: '３０' holds '３' (fullwidth digit three)"
    assert digits_problem("x²") == "write digits 0-9: 'x²' holds '²' (superscript two)"
    assert digits_problem("Ⅻ") is not None  # a number, though int() would not read it


@pytest.mark.parametrize("text", [ARABIC_MONTH, DEVANAGARI_MONTH, "２０２６-１１", "2026-1١"])
def test_a_month_in_other_digits_is_refused_not_read_as_another_text_of_the_same_month(text):
    with pytest.raises(ValueError) as refused:
        parse_month(text)
    assert str(refused.value).startswith(f"not a month (YYYY-MM): write digits 0-9: {text!r} holds ")


@pytest.mark.parametrize("text", ["2026-1 ", " 2026-11", "2026-1", "2026-011", "+2026-11", "2026-+1", "2026_-11",
                                  "2026-00", "2026-13", "2026- 1"])
def test_a_month_is_exactly_four_digits_a_dash_and_two(text):
    with pytest.raises(ValueError, match=r"^not a month \(YYYY-MM\): "):
        parse_month(text)


def test_a_month_of_ascii_digits_is_read():
    assert parse_month("2026-11") == (2026, 11) and parse_month("2027-01") == (2027, 1)


@pytest.mark.parametrize("text", ["٢٠٢٦-١١-٠١", "२०२६-११-०१", "2026-11-0１"])
def test_a_day_in_other_digits_is_refused_with_the_reason(text):
    with pytest.raises(ValueError, match=r"^not a date \(YYYY-MM-DD\): write digits 0-9"):
        parse_day(text)
    with pytest.raises(ValueError, match=r"^not a date \(YYYY-MM-DD\): write digits 0-9"):
        cells.day(text)


@pytest.mark.parametrize("text", ["20261101", "2026-W45-1", "2026-11-01 ", "2026-11-01T00:00", "2026-11-31"])
def test_a_days_option_is_exactly_yyyy_mm_dd(text):
    with pytest.raises(ValueError, match=r"^not a date \(YYYY-MM-DD\): "):
        parse_day(text)
    assert parse_day("2026-11-01") == date(2026, 11, 1)


@pytest.mark.parametrize("text", ["2026-11-01T1٠:00", "٢٠٢٦-11-01T10:00", "2026-11-01T10:00+0١:00"])
def test_a_moment_in_other_digits_is_refused_with_the_reason(text):
    with pytest.raises(ValueError, match=r"^not a moment \(YYYY-MM-DDTHH:MM\): write digits 0-9"):
        parse_moment(text)
    with pytest.raises(ValueError, match=r"^not an ISO 8601 date-time: write digits 0-9"):
        cells.instant(text)
    assert parse_moment("2026-11-01T10:00") == datetime(2026, 11, 1, 10, 0)


@pytest.mark.parametrize("text", ["１００.00", "٣.00", "3.٠٠", "١٢,50", "१००"])
def test_an_amount_in_other_digits_is_refused_not_read_as_another_amount(text):
    with pytest.raises(ValueError) as refused:
        parse_amount(text)
    assert str(refused.value).startswith(f"not a plain decimal: write digits 0-9: {text!r} holds ")
    with pytest.raises(ValueError, match="write digits 0-9"):
        cells.money(text)
    with pytest.raises(ValueError, match="write digits 0-9"):
        cells.rate(text)


def test_amounts_of_ascii_digits_are_read_to_the_cent():
    assert parse_amount("100.00") == Decimal("100.00") and parse_amount("12,5") == Decimal("12.50")
    assert cells.money(" 3.00 ") == Decimal("3.00")


@pytest.mark.parametrize("text", ["٣٠", "３０", "३०", "3٠", "²"])
def test_minutes_in_other_digits_are_refused_for_their_digits_not_their_size(text):
    with pytest.raises(ValueError) as refused:
        cells.whole(0, 10000)(text)
    assert str(refused.value).startswith(f"write digits 0-9: {text!r} holds ")
    assert "at most" not in str(refused.value)


def test_whole_numbers_of_ascii_digits_are_read():
    assert cells.whole(0, 10000)("30") == 30 and cells.whole(0, 10000)(30.0) == 30
    assert parse_whole("3") == 3 and parse_whole("-2", negative=True) == -2
    for text in ("٣", "1_000", " 3", "3 ", "", "+"):
        with pytest.raises(ValueError):
            parse_whole(text)


def test_a_siren_or_vat_number_in_other_digits_is_refused_for_its_digits():
    with pytest.raises(ValueError, match=r"^not a SIREN .*: write digits 0-9"):
        cells.siren("٧٣٢٨٢٩٣٢٠")  # 732829320 (a valid SIREN) in Arabic-Indic digits
    assert cells.siren("732 829 320") == "732829320"
    with pytest.raises(ValueError, match=r"^not a valid EU VAT number: write digits 0-9"):
        cells.vat_number("FR٤٤٧٣٢٨٢٩٣٢٠")


@pytest.mark.parametrize("raw", ["٢٠٢٦-١٢-٠٦", "२०२६-१२-०६", "２０２６-12-06"])
def test_lifecycle_today_in_other_digits_is_refused(monkeypatch, raw):
    monkeypatch.setenv("LIFECYCLE_TODAY", raw)
    with pytest.raises(clock.MalformedToday) as refused:
        clock.today()
    assert str(refused.value) == (f"LIFECYCLE_TODAY={raw!r} is not a day (YYYY-MM-DD, write digits 0-9); unset it "
                                  f"to use the machine's clock")


@pytest.mark.parametrize("raw", ["+-30", "--30", "-+30", "1_0", "3 0"])
def test_a_whole_number_cell_with_two_signs_or_separators_is_not_a_number(raw):
    """`+-30` reached Python's own int() message (a fifth probe): one sign at most, digits 0-9 only."""
    from ledger.imports.cells import whole

    with pytest.raises(ValueError) as refused:
        whole(0, 10000)(raw)
    assert str(refused.value) == f"not a whole number: {raw!r}"


@pytest.mark.parametrize(("text", "reason"), [
    ("+12.50", "write the number without a sign: '+12.50'"),
    ("0012.50", "write the number without leading zeros: '0012.50'"),
    ("00,50", "write the number without leading zeros: '00,50'"),
    ("-3.00", "must not be negative: '-3.00'"),
])
def test_every_number_from_outside_is_plain_no_sign_no_leading_zero(text, reason):
    """One rule for every import's numbers (amounts, rates, minutes) and the options' whole numbers."""
    for read in (parse_amount, cells.money, cells.positive_money, cells.monthly_fee):
        with pytest.raises(ValueError) as refused:
            read(text)
        assert str(refused.value) == reason
    assert parse_amount("0.50") == Decimal("0.50") and parse_amount("0") == Decimal("0.00")
    assert parse_amount("-3.00", negative=True) == Decimal("-3.00")


@pytest.mark.parametrize(("text", "reason"), [
    ("+5", "write the number without a sign: '+5'"), ("-0", "must not be negative: '-0'"),
    ("007", "write the number without leading zeros: '007'"), ("-5", "must not be negative: '-5'"),
])
def test_whole_numbers_take_no_sign_and_no_leading_zero(text, reason):
    with pytest.raises(ValueError) as refused:
        cells.whole(0, 10000)(text)
    assert str(refused.value) == reason
    with pytest.raises(ValueError) as refused:
        parse_whole(text)
    assert str(refused.value) == reason
    with pytest.raises(ValueError, match="zero has no sign"):
        parse_whole("-0", negative=True)
    assert cells.whole(0, 10000)("0") == 0 and parse_whole("0") == 0


def test_a_rate_is_plain_too():
    for text in ("+0.2", "00.20"):
        with pytest.raises(ValueError):
            cells.rate(text)
    assert cells.rate("0.20") == Decimal("0.2000")


@pytest.mark.parametrize("address", ["b@x..com", "a@[127.0.0.1]", "é@ex.com", "a..b@c.example", ".a@c.example",
                                     "a@c", "a@-c.example", "a@c.123", "a@b@c.example", "a@c.example.", "a b@c.example",
                                     "a@b.example\nBcc: x@y.example", "\"a\"@c.example"])
def test_an_email_is_one_mailbox_every_server_takes(address):
    with pytest.raises(ValueError, match="^not an email address: "):
        cells.email(address)


def test_plain_addresses_are_read():
    for address in ("a@b.example", "first.last+tag@mail.example.com", "o'brien@ex.fr", "x@xn--bcher-kva.example"):
        assert cells.email(address) == address
