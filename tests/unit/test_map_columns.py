"""`run restore --map-columns` names columns renamed on the platform since a backup, as SQL identifiers:
anything else (SQL-like text, quotes, spaces) is refused in one line naming the bad entry, exit 2, before
any run or temporary Prefect server starts. `t.a=b; DROP TABLE x` was taken as a rename, and refused only
after the server started, as "the platform's tables changed"."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lifecycle.cli import app
from operations.backup_schema import SchemaDrift, parse_renames

NOT_AN_IDENTIFIER = "is not an SQL identifier: a letter or _ then letters, digits or _, 63 characters at most"


@pytest.mark.parametrize("typed, entry, name", [
    ("operations.title=b; DROP TABLE x", "operations.title=b; DROP TABLE x", "b; DROP TABLE x"),
    ("operations.title=headline,notes.body='text'", "notes.body='text'", "'text'"),
    ('operations."title"=headline', 'operations."title"=headline', '"title"'),
    ("operations.ti tle=headline", "operations.ti tle=headline", "ti tle"),
    ("op-erations.title=headline", "op-erations.title=headline", "op-erations"),
    ("operations.title=1headline", "operations.title=1headline", "1headline"),
    ("operations.title=headline--", "operations.title=headline--", "headline--"),
])
def test_a_name_that_is_no_sql_identifier_is_refused_naming_its_entry(typed, entry, name):
    with pytest.raises(SchemaDrift) as refused:
        parse_renames(typed)
    assert str(refused.value) == f"--map-columns {entry!r}: {name!r} {NOT_AN_IDENTIFIER}"


def test_identifiers_are_taken():
    assert parse_renames("operations.title=headline, _notes.Body2=text_2") == {
        "operations": {"title": "headline"}, "_notes": {"Body2": "text_2"}}


@pytest.mark.parametrize("typed, said", [
    ("operations.title=b; DROP TABLE x",
     f"--map-columns 'operations.title=b; DROP TABLE x': 'b; DROP TABLE x' {NOT_AN_IDENTIFIER}"),
    ("a=b; DROP TABLE x", "--map-columns 'a=b; DROP TABLE x': write table.old_column=new_column"),
    ("x" * 3000, "--map-columns is 3000 characters long: at most 2000 (name the columns renamed since the backup, "
                 "table.old=new, separated by commas)"),
])
def test_the_cli_refuses_the_map_before_any_run_or_server_starts(tmp_path, monkeypatch, typed, said):
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = CliRunner().invoke(app, ["run", "restore", "--customer", "ACME", "--target", "in_place",
                                      "--requested-by", "alice", "--ticket", "T-1", "--map-columns", typed])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"lifecycle: {said}\n"
    assert not (tmp_path / "home" / "prefect").exists()  # no Prefect home made: no server was started


def test_the_cli_refuses_a_map_for_the_sandbox_before_anything(tmp_path, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(app, ["run", "restore", "--customer", "ACME", "--requested-by", "alice", "--ticket",
                                      "T-1", "--map-columns", "operations.title=headline"])
    assert result.exit_code == 2, result.output
    assert result.stderr == ("lifecycle: --map-columns is for restores in place (--target in_place): the sandbox is "
                             "built from the backup's own tables\n")
