"""The id grammar (policy.ids): an id becomes a storage key and a folder name, also on Windows or SMB storage,
where a trailing dot is dropped (`C001.` would be `C001`'s folder) and the device names cannot be files."""

from __future__ import annotations

import pytest

from policy.ids import BadId, checked_id, id_problem

DEVICE = ("is a device name on Windows (CON, PRN, AUX, NUL, COM0-COM9, LPT0-LPT9, with any extension): no folder "
          "or file of Windows or SMB storage can take it; choose another id")
TRAILING_DOT = ("an id does not end with '.': Windows and SMB storage drop a trailing dot, so it would be the folder "
                "of the id without it")


@pytest.mark.parametrize(("value", "said"), [
    ("C001.", TRAILING_DOT), ("F-1..", TRAILING_DOT),
    ("CON", f"'CON' {DEVICE}"), ("con", f"'con' {DEVICE}"), ("nul.txt", f"'nul' {DEVICE}"),
    ("COM1", f"'COM1' {DEVICE}"), ("com0", f"'com0' {DEVICE}"), ("LPT1", f"'LPT1' {DEVICE}"),
    ("Lpt9.tar.gz", f"'Lpt9' {DEVICE}"), ("AUX", f"'AUX' {DEVICE}"), ("PRN.csv", f"'PRN' {DEVICE}"),
])
def test_an_id_windows_storage_cannot_hold_is_refused_saying_why(value, said):
    assert id_problem(value) == said
    with pytest.raises(BadId) as refused:
        checked_id(value, "customer id")
    assert str(refused.value) == f"customer id {value!r}: {said}"


@pytest.mark.parametrize("value", [
    "C001", "C001-20261120", "2026-000001", "F-2026-001", "VIR-2026-11-001", "HD-1", "a.b", "_x", "c020",
    "CONSOLE", "COM10", "LPT", "NUL_1", "AUX-2", "CON1", "x.CON", "v1.2", "A" * 64,
])
def test_ids_the_documented_grammar_allows_are_kept(value):
    assert id_problem(value) is None
