"""The customer catalogues: every message the code sends is translated in both languages, the compiled
catalogues are those of the .po files, and amounts, dates and percentages are the locale's."""

from __future__ import annotations

import io
import re
import string
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from policy.language import LANGUAGES, LOCALES, MissingMessage, speak

ROOT = Path(__file__).resolve().parents[2]
#: the markers of policy/language.py (the keywords `pybabel extract` is given)
KEYWORDS = {"say": None, "say_n": (1, 2), "N_": None}
NBSP = "\u00a0"


def _used_by_the_code() -> dict[str | tuple[str, str], str]:
    """Every message id the code marks, with where it was found."""
    with open(ROOT / "babel.cfg") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = {}
    for filename, line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True):
        found[message] = f"{filename}:{line}"
    return found


USED = _used_by_the_code()


def _catalogue(language: str):
    with open(LOCALES / language / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=language)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_code_marks_the_customer_texts():
    """A sample of what customers receive, so an extractor that finds nothing cannot pass the tests below."""
    assert len(USED) > 100
    for message in ("Subscription {month}", "Card payment fee ({rate} of {base})",
                    "Late payment of invoice {number}", "Your platform's data will be deleted on {due}",
                    "Credit: {reason}", "INVOICE", ("{count} month", "{count} months")):
        assert message in USED, message


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_the_code_sends_is_translated(language):
    """No silent fallback to English: a message the catalogue lacks, or leaves empty or fuzzy, fails here
    (and raises MissingMessage at run time)."""
    catalogue = _catalogue(language)
    problems = []
    for message, where in USED.items():
        key = message[0] if isinstance(message, tuple) else message
        entry = catalogue.get(key)
        if entry is None:
            problems.append(f"{where}: {message!r} is not in the {language} catalogue")
            continue
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.fuzzy or not all(forms):
            problems.append(f"{where}: {message!r} is untranslated (or fuzzy) in the {language} catalogue")
            continue
        wanted = set().union(*(_placeholders(part) for part in (message if isinstance(message, tuple) else (message,))))
        for form in forms:
            if _placeholders(form) != wanted:
                problems.append(f"{where}: {language} {form!r} has placeholders {_placeholders(form)}, not {wanted}")
    stale = {entry.id for entry in catalogue if entry.id} - set(USED)
    assert not problems, "\n".join(problems)
    assert not stale, f"the {language} catalogue translates messages no code sends any more: {sorted(stale)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_shipped_mo_is_compiled_from_the_po(language):
    """The compiled catalogue is package data: it must say what the .po says (`pybabel compile -d
    policy/locales` after each change of a .po)."""
    compiled = io.BytesIO()
    write_mo(compiled, _catalogue(language))
    shipped = (LOCALES / language / "LC_MESSAGES" / "messages.mo").read_bytes()
    assert shipped == compiled.getvalue(), f"policy/locales/{language}: run `pybabel compile -d policy/locales`"


def test_the_catalogues_are_package_data():
    """`pip install .` ships them: pyproject's package-data names the compiled catalogues."""
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^policy = \[.*"locales/\*/LC_MESSAGES/\*\.mo"', text, re.MULTILINE)


def test_an_unknown_message_raises_instead_of_going_out_in_english():
    with pytest.raises(MissingMessage, match="fr catalogue has no translation of 'Subscriptoin {month}'"):
        speak("fr").say("Subscriptoin {month}", month="novembre 2026")
    with pytest.raises(MissingMessage):
        speak("en").say("Not a message of the product")
    with pytest.raises(MissingMessage):
        speak("fr").say_n("{count} apple", "{count} apples", 2)
    with pytest.raises(ValueError, match="'de' is not a customer language"):
        speak("de")


def test_amounts_dates_and_percentages_are_the_locales():
    french, english = speak("fr"), speak("en")
    assert french.money(Decimal("1490.00")) == f"1{NBSP}490,00{NBSP}€"
    assert english.money(Decimal("1490.00")) == "€1,490.00"
    assert french.money(Decimal("-12.5")) == f"-12,50{NBSP}€" and english.money(Decimal("-12.5")) == "-€12.50"
    assert french.money(Decimal("130.6667"), 4) == f"130,6667{NBSP}€" and english.money(Decimal("130.5"), 4) == "€130.50"
    assert french.percent(Decimal("0.02")) == f"2{NBSP}%" and english.percent(Decimal("0.02")) == "2%"
    assert french.percent(Decimal("0.105")) == f"10,5{NBSP}%"
    assert french.date(date(2026, 11, 1)) == "1er novembre 2026" and english.date(date(2026, 11, 1)) == "November 1, 2026"
    assert french.date(date(2026, 11, 2)) == "2 novembre 2026" and french.date(date(2026, 11, 21)) == "21 novembre 2026"
    assert french.month(2026, 2) == "février 2026" and english.month(2026, 2) == "February 2026"
    assert french.say("Subscription {month}", month=french.month(2026, 11)) == "Abonnement novembre 2026"
    assert french.say("Invoice {number} – {amount} incl. VAT", number="2026-000001", amount=Decimal("1788")) \
        == f"Facture 2026-000001 – 1{NBSP}788,00{NBSP}€ TTC"
    assert english.say("Invoice {number} – {amount} incl. VAT", number="2026-000001", amount=Decimal("1788")) \
        == "Invoice 2026-000001 – €1,788.00 incl. VAT"


def test_plurals_follow_each_languages_rule():
    french, english = speak("fr"), speak("en")
    assert [french.say_n("{count} month", "{count} months", n) for n in (0, 1, 2)] == ["0 mois", "1 mois", "2 mois"]
    assert [english.say_n("{count} day", "{count} days", n) for n in (0, 1, 2)] == ["0 days", "1 day", "2 days"]
    assert french.say_n("{count} day", "{count} days", 30) == "30 jours"


def test_every_category_and_fee_an_invoice_line_can_name_has_its_words():
    from policy.categories import CATEGORIES
    from policy.invoicing import CATEGORY_WORDS, FEE_WORDS
    from policy.standby import REASON_WORDS, REASONS

    assert set(CATEGORY_WORDS) == set(CATEGORIES)
    assert {row.fee_name for row in CATEGORIES.values() if row.fee_name} <= set(FEE_WORDS)
    assert set(REASON_WORDS) == set(REASONS)
    assert speak("fr").say(CATEGORY_WORDS["customization"]) == "Personnalisation"


def test_invoice_lines_are_drafted_in_the_customers_language_or_the_terms():
    from policy.invoicing import Subscriber, fee_text, intervention_text, subscription_lines, subscription_text
    from policy.terms import Terms

    terms = Terms()
    french, english = speak("fr"), speak("en")
    english_customer = Subscriber(Decimal("300.00"), "sepa", "monthly", None, Decimal("0.20"), language="en")
    before_languages = Subscriber(Decimal("300.00"), "sepa", "monthly", None, Decimal("0.20"))   # None: the terms'
    assert subscription_lines(english_customer, "2026-10", 0, terms)[0].description == "Subscription October 2026"
    assert subscription_lines(before_languages, "2026-10", 0, terms)[0].description == "Abonnement octobre 2026"
    assert subscription_lines(before_languages, "2026-10", 0, Terms(invoice_language="en"))[0].description == \
        "Subscription October 2026"
    assert subscription_text(french, "2026-10", terms, served=10, standby=4) == (
        f"Abonnement octobre 2026 (fin du service au jour 10 sur 31 : résiliation) (4 jours sur 31 en veille "
        f"à 50{NBSP}%)")
    assert subscription_text(english, "2026-10", terms, served=10, standby=4) == (
        "Subscription October 2026 (service ended on day 10 of 31: cancellation) (4 of 31 days on standby at 50%)")
    assert subscription_text(french, "2027-03", terms, annual=True) == "Abonnement annuel, période commençant en mars 2027"
    # data recovery's fee is a line of its own (quantity x price = amount, EN 16931 BT-131): its time's text
    # names no fee
    assert intervention_text(french, "data_recovery", 1, 90, "2026-09", "2026-10", terms) == (
        "Récupération de données : 1 intervention, 90 min facturées (en retard : septembre 2026)")
    assert fee_text(french, "data_recovery", "2026-09", "2026-10") == (
        "Récupération de données : frais de récupération par intervention (en retard : septembre 2026)")
    assert fee_text(english, "data_recovery", "2026-10", "2026-10") == "Data recovery: recovery fee per intervention"
    assert intervention_text(english, "assistance", 3, 30, "2026-10", "2026-10", terms) == (
        "Assistance: 3 interventions, 30 min billed beyond the monthly quota")


def test_what_a_language_remembers_stays_bounded_and_its_texts_unchanged():
    """A language lives as long as its process: a worker closing month after month must not keep every amount
    and text it ever wrote. Past the bound, the amounts are still the locale's."""
    from policy.language import REMEMBERED, Language

    words = Language("fr")
    amounts = [words.money(Decimal(cents) / 100) for cents in range(REMEMBERED + 5_000)]
    texts = [words.remember(("line", n), lambda n=n: f"ligne {n}") for n in range(REMEMBERED + 5_000)]
    assert len(words._amounts) <= REMEMBERED and len(words._texts) <= REMEMBERED
    assert amounts[123_45] == words.money(Decimal("123.45")) == Language("fr").money(Decimal("123.45"))
    assert amounts[123_45].replace("\xa0", " ") == "123,45 €"
    assert texts[-1] == words.remember(("line", REMEMBERED + 4_999), lambda: "not made again") == f"ligne {REMEMBERED + 4_999}"
