"""What a customer reads, in the customer's language: one gettext catalogue per language, with Babel.

Every text a customer receives (invoice lines, the invoice document, mails, notices, statements) is
written in English in the code, marked for extraction (`speak(...).say("...")`, `say_n` for plurals,
`N_` for a text kept as data and translated later), and looked up in the catalogue of the customer's
language: `policy/locales/<fr|en>/LC_MESSAGES/messages.po`, compiled to the `.mo` shipped next to it
as package data. The English catalogue translates each message to itself, so English is a language
like French and not a fallback: a message a catalogue lacks raises `MissingMessage` rather than going
out in English to a French customer (tests/unit/test_language.py extracts every message of the code
and checks both catalogues translate all of them, and that the `.mo` files are compiled from the
`.po` files as they are).

Amounts, dates and percentages are Babel's, for the language's locale (`1 490,00 €` in French,
`€1,490.00` in English). Babel's French group separator (U+202F, narrow no-break space) is given as a
no-break space (U+00A0): a customer reads one kind of space everywhere (the invoices' first font, Vera, had
no glyph for U+202F; DejaVu Sans, their font now, has).

After changing a customer text, from the repository's root:

    pybabel extract -F babel.cfg --no-default-keywords -k say -k say_n:1,2 -k N_
        --no-location --sort-output -o policy/locales/messages.pot .   (one command)
    pybabel update -i policy/locales/messages.pot -d policy/locales --no-fuzzy-matching

then translate the new entries of both .po files (the English msgstr repeats the msgid; the tests
refuse an empty one) and `pybabel compile -d policy/locales` (the .mo are committed).
"""

from __future__ import annotations

import functools
import gettext
from datetime import date
from decimal import Decimal
from pathlib import Path

from babel.core import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

LANGUAGES = ("fr", "en")
LOCALES = Path(__file__).parent / "locales"
DOMAIN = "messages"
NNBSP, NBSP = "\u202f", "\u00a0"


class MissingMessage(LookupError):
    """A customer text that the language's catalogue does not translate (a bug: never sent in English)."""


def N_(message: str) -> str:
    """Marks a text for extraction where it is kept as data (a notice template) and translated later."""
    return message


def _spaces(text: str) -> str:
    return text.replace(NNBSP, NBSP)


class Language:
    """One language's catalogue and its locale's formats."""

    def __init__(self, code: str):
        if code not in LANGUAGES:
            raise ValueError(f"{code!r} is not a customer language ({', '.join(LANGUAGES)})")
        self.code = code
        self.locale = Locale.parse(code)
        with open(LOCALES / code / "LC_MESSAGES" / f"{DOMAIN}.mo", "rb") as handle:
            translations = gettext.GNUTranslations(handle)
        self._catalogue = translations._catalog
        self._plural_index = translations.plural  # the catalogue's own Plural-Forms rule
        # formats remembered: a close writes a hundred thousand lines with a few thousand distinct figures, and
        # CLDR formatting was a tenth of its time (keyed by the text of the value: 1.5 and 1.50 are not written alike)
        self._numbers: dict[str, str] = {}
        self._amounts: dict[str, str] = {}
        self._formats: dict[tuple, str] = {}   # percentages, dates, months: keyed by kind and value
        self._texts: dict[tuple, str] = {}     # whole texts a caller made from a few facts (`remember`)

    # --- texts -------------------------------------------------------------------------------------

    def template(self, message: str) -> str:
        """The translated text with its `{placeholders}` still in (for a caller that fills them later)."""
        translated = self._catalogue.get(message)
        if not translated:
            raise MissingMessage(f"the {self.code} catalogue has no translation of {message!r}")
        return translated

    def say(self, message: str, **facts) -> str:
        """The message in this language, its `{placeholders}` filled with the facts: a date is written
        as the locale writes it, a Decimal is an amount in euros; anything else is given as it is."""
        return self.template(message).format_map({name: self.fact(value) for name, value in facts.items()})

    def say_n(self, singular: str, plural: str, count: int, **facts) -> str:
        """The singular or plural form the language uses for `count` (also given as `{count}`)."""
        index = self._plural_index(count)
        translated = self._catalogue.get((singular, index))
        if not translated:
            raise MissingMessage(f"the {self.code} catalogue has no plural form {index} of {singular!r}")
        return translated.format_map({"count": self.number(count),
                                      **{name: self.fact(value) for name, value in facts.items()}})

    def fact(self, value) -> str:
        if isinstance(value, date):
            return self.date(value)
        if isinstance(value, Decimal):
            return self.money(value)
        return str(value)

    def remember(self, key: tuple, make) -> str:
        """The text `make()` gives, made once per `key` (every fact the text depends on, hashable): a close
        writes a hundred thousand invoice lines from a few thousand distinct facts."""
        return _remembered(self._texts, key, make)

    def _format(self, kind: str, value, make) -> str:
        return _remembered(self._formats, (kind, value), make)

    # --- formats -----------------------------------------------------------------------------------

    def money(self, amount: Decimal, places: int = 2) -> str:
        """`1 490,00 €` / `€1,490.00`; `places` > 2 for a unit price that has them (`130,6667 €`)."""
        if places == 2:
            return _remembered(self._amounts, str(amount),
                               lambda: _spaces(format_currency(amount, "EUR", locale=self.locale)))
        shown = amount.quantize(Decimal(1).scaleb(-places)).normalize()
        return _spaces(format_currency(shown, "EUR", locale=self.locale, currency_digits=False,
                                       decimal_quantization=False))

    def number(self, value: Decimal | int) -> str:
        return _remembered(self._numbers, str(value),
                           lambda: _spaces(format_decimal(value, locale=self.locale, decimal_quantization=False)))

    def percent(self, rate: Decimal) -> str:
        """`2 %` / `2%`, `10,5 %` for a rate that has decimals."""
        return self._format("percent", str(rate), lambda: _spaces(
            format_percent(rate, locale=self.locale, decimal_quantization=False)))

    def date(self, day: date) -> str:
        """`1er novembre 2026`, `2 novembre 2026` / `November 1, 2026`.

        French writes the first of a month as an ordinal (« le 1er février »), which CLDR's long format
        does not: a letter that says « 1 février » reads as machine-made."""
        return self._format("date", day, lambda: self._long_date(day))

    def _long_date(self, day: date) -> str:
        text = format_date(day, "long", locale=self.locale)
        if self.code == "fr" and day.day == 1:
            text = "1er" + text[1:]
        return text

    def short_date(self, day: date) -> str:
        """`01/11/2026` / `1 November 2026`: an invoice's dates."""
        return self._format("short_date", day, lambda: format_date(
            day, "dd/MM/y" if self.code == "fr" else "d MMMM y", locale=self.locale))

    def month(self, year: int, number: int) -> str:
        """`novembre 2026` / `November 2026`."""
        return self._format("month", (year, number), lambda: format_date(date(year, number, 1), "LLLL y",
                                                                          locale=self.locale))


#: texts and formats a language remembers, per kind: the same facts recur within a batch of customers, but
#: a language lives as long as its process (a worker closes month after month), so what it remembers is bounded
REMEMBERED = 20_000


def _remembered(store: dict, key, make) -> str:
    """`store[key]`, made by `make()` the first time; a full store is emptied rather than grown (cheaper than
    keeping an order of use, and the facts that recur are made again at once)."""
    try:
        return store[key]
    except KeyError:
        if len(store) >= REMEMBERED:
            store.clear()
        text = store[key] = make()
        return text


@functools.cache
def speak(code: str) -> Language:
    """The language a customer reads (`fr` or `en`)."""
    return Language(code)


def language_of(customer_language: str | None, default: str) -> str:
    """A customer's language: its own, else the terms' `invoice_language` (customers saved before
    languages existed have none)."""
    return customer_language or default
