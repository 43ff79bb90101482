"""The two rules every entry applies to what comes from outside: text without control characters
(policy.text) and dates within the terms' window (policy.window), tested without a server."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from policy.terms import Terms
from policy.text import control_problem
from policy.window import DateWindow

TODAY = date(2026, 11, 23)
WINDOW = DateWindow.of(Terms(), TODAY)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x1b", "\x7f", "\x80", "\x9b", "\x9f"])
def test_a_control_character_is_refused_in_any_text(char):
    assert "control character" in control_problem(f"a{char}b")
    assert "control character" in control_problem(f"a{char}b", lines=True)


@pytest.mark.parametrize("char", ["\n", "\r", "\v", "\f", "\x85", "\u2028", "\u2029", "\x1e"])
def test_a_line_break_is_refused_in_a_one_line_value(char):
    assert "line break" in control_problem(f"a{char}b")


def test_a_multi_line_value_keeps_its_lines_and_tabs_and_any_text_keeps_its_letters():
    assert control_problem("host: db\r\nuser:\troot", lines=True) is None
    assert control_problem("a\tb") is not None  # a one-line value holds no tab either
    assert control_problem("Société Générale d'Épargne — 日本 [/bold] =1+2") is None
    # ZWNJ and ZWJ join letters (Persian, Indic scripts) and emoji: they reorder and hide nothing
    assert control_problem("می\u200cخواهم 👩\u200d💻") is None


INVISIBLE = (["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e",
              "\u200f", "\u061c", "\u200b", "\u2060", "\ufeff",
              # found by a later probe: every format character (Cf) but ZWNJ/ZWJ, whatever list came before
              "\u180e", "\ufff9", "\ufffa", "\ufffb", "\U000e0001", "\U000e0020", "\U000e0041", "\U000e007f",
              "\u2061", "\u2062", "\u2063", "\u2064", "\u206a", "\u206b", "\u206c", "\u206d", "\u206e", "\u206f",
              "\u00ad", "\U0001bca0", "\U0001bca1", "\U0001bca2", "\U0001bca3"]
             + [chr(code) for code in range(0x1D173, 0x1D17B)]
             # letters, a mark and a symbol that show nothing: the Hangul fillers, the grapheme joiner, U+FFFC
             + ["\u115f", "\u1160", "\u3164", "\uffa0", "\u034f", "\ufffc",
                # and the braille blank, a symbol that shows nothing (a third probe)
                "\u2800"])

#: private-use and unassigned code points (a third probe: U+E000 inside a name showed nothing, or a logo)
UNPRINTABLE = ["\ue000", "\uf8ff", "\U000f0000", "\U0010fffd", "\ufffe", "\uffff", "\u0378", "\U0010ffff"]


@pytest.mark.parametrize("char", UNPRINTABLE, ids=[f"U+{ord(char):04X}" for char in UNPRINTABLE])
def test_a_private_use_or_unassigned_character_is_refused_naming_it(char):
    for lines in (False, True):
        assert control_problem(f"Evil{char}gnp.exe", lines=lines) == (
            f"holds the unprintable character U+{ord(char):04X} (at character 5; private-use or unassigned: no two "
            f"fonts show it alike): type the text without it")


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(char):04X}" for char in INVISIBLE])
def test_an_invisible_character_is_refused_in_any_text_naming_it(char):
    import unicodedata

    for lines in (False, True):
        problem = control_problem(f"Evil{char}gnp.exe", lines=lines)
        assert problem == (f"holds the invisible character U+{ord(char):04X} {unicodedata.name(char)} (at character 5; "
                           f"it reorders or hides text): type the text without it")


def test_the_message_names_the_character_by_its_unicode_name():
    assert control_problem("Evil\u202egnp.exe") == ("holds the invisible character U+202E RIGHT-TO-LEFT OVERRIDE (at "
                                                    "character 5; it reorders or hides text): type the text without it")
    assert "U+E0041 TAG LATIN CAPITAL LETTER A (at character 2;" in control_problem("a\U000e0041")
    assert "U+00AD SOFT HYPHEN" in control_problem("co\u00adop")


def test_joiners_variation_selectors_and_the_letters_of_any_script_are_kept():
    kept = ["می\u200cخواهم",                            # Persian: ZWNJ between the letters of one word
            "क्\u200dष",                                 # Devanagari: ZWJ
            "👩\u200d💻", "👨\u200d👩\u200d👧",          # emoji ZWJ sequences
            "❤\ufe0f", "☺\ufe0e", "✌🏽", "#\ufe0f\u20e3",  # variation selectors (Mn), a skin tone, a keycap
            "Zoé Lefèvre-Aït Œuvre", "François d'Hérouville",  # French names
            "محمدرضا شجریان", "زهرا\u200cسادات",            # Persian names
            "한글 이름", "日本語", "Ελληνικά", "Straße"]
    for text in kept:
        assert control_problem(text) is None, text
        assert control_problem(text, lines=True) is None, text


@pytest.mark.parametrize(("text", "named"), [
    ("\u0301\u0301", "U+0301 COMBINING ACUTE ACCENT"), ("\ufe0f", "U+FE0F VARIATION SELECTOR-16"),
    (" \u20e3 ", "U+20E3 COMBINING ENCLOSING KEYCAP"), ("\u200d\u200c", "U+200D ZERO WIDTH JOINER"),
], ids=["combining-marks", "variation-selector", "enclosing-mark", "joiners"])
def test_a_text_that_shows_nothing_is_refused_as_an_empty_one(text, named):
    """Marks with no character to carry them look like an empty name in every list, mail and document."""
    from policy.text import text_problem

    said = f"shows nothing: it holds only marks with no character to carry them ({named}): type the text itself"
    assert control_problem(text) == said
    assert control_problem(text, lines=True) == said
    assert text_problem(text, 120) == said


def test_a_text_is_one_line_of_at_most_its_length_and_may_begin_like_a_formula():
    from policy.text import text_problem

    assert text_problem('=HYPERLINK("http://x","y")', 120) is None  # text, as an import's cell: exports keep it text
    assert text_problem("  ", 120) == "is empty"
    assert text_problem("x" * 121, 120) == "is longer than 120 characters"
    assert text_problem("ann\u202e", 120).startswith("holds the invisible character U+202E")


def test_the_window_runs_from_the_earliest_date_to_the_horizon():
    assert WINDOW.latest == date(2027, 12, 28)
    assert WINDOW.problem(date(2000, 1, 1)) is None and WINDOW.problem(date(2027, 12, 28)) is None
    assert WINDOW.problem(date(1999, 12, 31)).startswith("1999-12-31 is before 2000-01-01: a date here lies from "
                                                         "2000-01-01 (earliest_date) to 400 days after today")
    assert "too far ahead" in WINDOW.problem(date(2027, 12, 29))
    assert "too far ahead" in WINDOW.problem(date.max) and "before" in WINDOW.problem(date.min)


def test_a_fact_of_the_past_lies_no_later_than_today_by_its_paris_day():
    assert WINDOW.problem(TODAY, past_only=True) is None
    assert "is after today" in WINDOW.problem(date(2026, 11, 24), past_only=True)
    late_evening = datetime(2026, 11, 23, 22, 30, tzinfo=timezone.utc)   # 23:30 in Paris: still today
    assert WINDOW.problem(late_evening, past_only=True) is None
    after_midnight = datetime(2026, 11, 23, 23, 30, tzinfo=timezone.utc)  # 00:30 on the 24th in Paris
    assert "is after today" in WINDOW.problem(after_midnight, past_only=True, shown="2026-11-24T00:30")
    assert WINDOW.problem(datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc), past_only=True)


def test_a_month_is_in_the_window_when_it_overlaps_it():
    assert WINDOW.month_problem("2000-01") is None and WINDOW.month_problem("2027-12") is None
    for month in ("0000-01", "0001-01", "1999-12"):
        assert "is before 2000-01" in WINDOW.month_problem(month)
    for month in ("2028-01", "9999-12"):
        assert "too far ahead" in WINDOW.month_problem(month)


def test_the_window_is_the_terms_and_the_same_for_every_customer():
    narrow = DateWindow.of(Terms(earliest_date=date(2026, 1, 1), horizon_days=10), TODAY)
    assert (narrow.earliest, narrow.latest) == (date(2026, 1, 1), date(2026, 12, 3))
    assert DateWindow.of(Terms(), date(9999, 12, 1)).latest == date.max  # a test clock at the edge stays valid
    with pytest.raises(ValueError):
        Terms(horizon_days=0)


def test_an_instant_of_the_past_lies_no_later_than_now_when_now_is_known():
    """An intervention started this afternoon is not work done this morning: later than now is refused too."""
    now = datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc)   # 11:00 in Paris
    window = DateWindow.of(Terms(), now=now)
    assert window.today == date(2026, 12, 6)
    assert window.problem(now, past_only=True, to_the_minute=True) is None
    assert window.problem(datetime(2026, 12, 6, 9, 59, tzinfo=timezone.utc), past_only=True, to_the_minute=True) \
        is None
    assert window.problem(datetime(2026, 12, 6, 10, 1, tzinfo=timezone.utc), past_only=True, shown="2026-12-06T11:01",
                          to_the_minute=True) \
        == ("2026-12-06T11:01 is later than now: it cannot lie ahead (what has not happened yet is not a fact); an instant "
            "here lies from 2000-01-01 (earliest_date) to today, no later than now")
    # a day, a date that may lie ahead, or a fact held to its day (a ticket's moments) is not held to the minute
    assert window.problem(date(2026, 12, 6), past_only=True, to_the_minute=True) is None
    assert window.problem(datetime(2026, 12, 6, 10, 1, tzinfo=timezone.utc), to_the_minute=True) is None
    assert window.problem(datetime(2026, 12, 6, 10, 1, tzinfo=timezone.utc), past_only=True) is None


@pytest.mark.parametrize("char", ["\u3164", "\uffa0", "\ufffc", "\u00ad", "\U000e0041"])
def test_an_email_cell_holds_no_invisible_character_even_a_printable_one(char):
    from ledger.imports.cells import email

    assert email("ann@b.example") == "ann@b.example"
    with pytest.raises(ValueError, match="not an email address"):
        email(f"ann{char}@b.example")
