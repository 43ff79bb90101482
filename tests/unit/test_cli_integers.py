"""Every integer option of the command line reads digits 0-9 and nothing else (policy.digits), within its
bounds: Typer's int took `1_0` as 10 and other scripts' digits as numbers, and told a mistake in a box of
several lines. Each is refused in one line naming the option, exit 2, before the command starts."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from lifecycle.cli import app
from tests.support.sqlite_ledger import home_with_ledger

# every integer option, with the arguments its command needs besides it
OPTIONS = {
    "--sample": ["run", "verify-backups"],
    "--customers": ["demo"],
    "--seed": ["demo"],
    "--port (up)": ["up"],
    "--workers": ["up"],
    "--limit": ["worker"],
    "--port (helpdesk-webhook)": ["helpdesk-webhook"],
    "--wait": ["keys", "rotate-master"],
}
REFUSED = {
    "1_0": "not a whole number: '1_0'",
    "٣": "write digits 0-9: '٣' holds '٣' (arabic-indic digit three)",
    "１０": "write digits 0-9: '１０' holds '１' (fullwidth digit one)",
    " 5": "not a whole number: ' 5'",
    "5.0": "not a whole number: '5.0'",
    "0x10": "not a whole number: '0x10'",
}


def _refusal(args: list[str], tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(app, args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("lifecycle: "), result.output
    assert not (tmp_path / "home" / "ledger.db").exists()  # refused before the command started
    return lines[0]


@pytest.mark.parametrize("typed", list(REFUSED), ids=["underscore", "arabic-indic", "fullwidth", "space", "decimal",
                                                       "hex"])
@pytest.mark.parametrize("option", list(OPTIONS))
def test_an_integer_option_takes_digits_0_to_9_only_one_line_exit_2(option, typed, tmp_path, monkeypatch):
    name = option.split()[0]
    line = _refusal([*OPTIONS[option], name, typed], tmp_path, monkeypatch)
    assert line == f"lifecycle: {name}: {REFUSED[typed]}"


@pytest.mark.parametrize("option, typed, bounds", [
    ("--sample", "0", "from 1 to 100000"), ("--customers", "0", "from 1 to 100000"),
    ("--seed", "-1", "from 0 to 9223372036854775807"), ("--port (up)", "65534", "from 1 to 65533"),
    ("--workers", "33", "from 1 to 32"), ("--limit", "0", "from 1 to 10000"),
    ("--port (helpdesk-webhook)", "70000", "from 1 to 65535"),
])
def test_an_integer_option_out_of_its_bounds_is_one_line_naming_them(option, typed, bounds, tmp_path, monkeypatch):
    name = option.split()[0]
    line = _refusal([*OPTIONS[option], name, typed], tmp_path, monkeypatch)
    assert line == f"lifecycle: {name}: {int(typed)} is out of range: a whole number {bounds}"


def test_a_good_number_is_read_as_written(tmp_path, monkeypatch):
    """`demo --customers 3 --seed 7` makes three customers; a sign is refused like in a file's cell."""
    monkeypatch.setenv("LIFECYCLE_HOME", str(home_with_ledger(tmp_path / "home")))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{tmp_path / 'home' / 'ledger.db'}")
    monkeypatch.setenv("LIFECYCLE_PLATFORM_URL", f"sqlite:///{tmp_path / 'home' / 'platform.db'}")
    result = CliRunner().invoke(app, ["demo", "--customers", "3", "--seed", "7", "--as-of", "2026-11-20"])
    assert result.exit_code == 0, result.output
    assert "customers.csv: 3 row(s): 3 new" in result.output
    signed = CliRunner().invoke(app, ["demo", "--customers", "3", "--seed", "+7", "--as-of", "2026-11-20"])
    assert (signed.exit_code, signed.output.strip()) == (2, "lifecycle: --seed: write the number without a sign: '+7'")


def test_no_integer_option_is_left_to_typers_int():
    """A new number option that forgets the strict parser fails here: every option of every command is read."""
    def walk(command):
        yield from command.params
        for sub in getattr(command, "commands", {}).values():
            yield from walk(sub)

    def number(param) -> bool:
        annotation = param.type_descriptor.annotation
        return annotation in (int, float) or any(arg in (int, float) for arg in getattr(annotation, "__args__", ()))

    def strict(param) -> bool:
        parser = param.type_descriptor.parameter_info.parser
        return getattr(parser, "__name__", "") == "INTEGER"

    numbers = [param for param in walk(typer.main.get_command(app)) if number(param)]
    assert [param.opts[0] for param in numbers if not strict(param)] == []
    assert sorted({param.opts[0] for param in numbers}) == sorted({option.split()[0] for option in OPTIONS})
