"""What `--out` may name: a regular file or a missing one; a symbolic link (writing through it overwrites
what it points to) or a FIFO (writing blocks for ever) is refused in one line, --force or not; the file is
written whole through a temporary file renamed over it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import typer

from lifecycle.cli.common import not_a_file_problem, write_file
from lifecycle.cli.run_checks import out_target


def refusal(capsys, out: Path, force: bool) -> str:
    with pytest.raises(typer.Exit) as ended:
        out_target(out, force, "2026-11")
    assert ended.value.exit_code == 2
    return capsys.readouterr().err


def test_a_link_or_a_fifo_is_refused_as_out_even_with_force(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # paths of a few characters: given back whole (a long one is cut: test_long_values)
    tmp_path = Path(".")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "w.xlsx").symlink_to(victim)
    (tmp_path / "dangling.xlsx").symlink_to(tmp_path / "nowhere.txt")
    os.mkfifo(tmp_path / "fifo.xlsx")
    for force in (False, True):
        for name in ("w.xlsx", "dangling.xlsx"):
            assert refusal(capsys, tmp_path / name, force) == (
                f"lifecycle: --out {tmp_path / name} is a symbolic link: give the path of a regular file (a link "
                f"is never written through)\n")
        assert refusal(capsys, tmp_path / "fifo.xlsx", force) == (
            f"lifecycle: --out {tmp_path / 'fifo.xlsx'} is a FIFO, not a regular file\n")
    assert victim.read_text() == "keep me" and not (tmp_path / "nowhere.txt").exists()


def test_a_regular_or_missing_file_is_taken(tmp_path, capsys):
    assert out_target(tmp_path / "new.xlsx", False, "2026-11") == tmp_path / "new.xlsx"
    (tmp_path / "old.xlsx").write_bytes(b"old")
    assert out_target(tmp_path / "old.xlsx", True, "2026-11") == tmp_path / "old.xlsx"
    assert not_a_file_problem(tmp_path / "old.xlsx") is None and not_a_file_problem(tmp_path / "none") is None
    assert not_a_file_problem(Path("/dev/null")) == "is a device, not a regular file"


def test_the_file_is_written_whole_and_a_link_put_there_is_replaced_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "w.xlsx"
    target.symlink_to(victim)  # put there after the check, before the write
    write_file(target, b"PK workbook")
    assert not target.is_symlink() and target.read_bytes() == b"PK workbook"
    assert victim.read_text() == "keep me"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".part")] == []


@pytest.mark.parametrize("name", ["a" * 300 + "/x.xlsx", "a" * 300])
def test_a_path_the_filesystem_cannot_look_at_is_one_line(tmp_path, capsys, name):
    """A component longer than the filesystem takes printed a traceback and "this is a bug" (exit 1)."""
    with pytest.raises((typer.Exit, SystemExit)) as stopped:
        out_target(tmp_path / name, False, "2026-11")
    assert getattr(stopped.value, "exit_code", getattr(stopped.value, "code", None)) == 2
    said = capsys.readouterr().err.strip()
    assert said.endswith("cannot be used (File name too long)") and len(said) < 160, said


def test_out_inside_the_storage_folder_is_refused_even_with_force(tmp_path, capsys, monkeypatch):
    """Issue 24: `run export --month M --out <a stored workbook> --force` overwrote that stored object (another
    month's, another version's), and a folder inside the storage was made and written into. Every path inside
    the storage's folder is refused, --force or not, before anything is made: the stored file itself, the folder,
    a new name in it, and the same reached through a symbolic link or `..`."""
    from lifecycle.cli.run_checks import shown
    from lifecycle_config import escaped
    from tests.support.sqlite_ledger import sqlite_ledger

    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    objects = tmp_path / "objects"
    stored = objects / "exports" / "2026-10" / "2026-10_billable-interventions.xlsx"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"PK the stored workbook")
    (tmp_path / "to-objects").symlink_to(objects)
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", objects.as_uri())
    before = sorted(objects.rglob("*"))
    for out in (stored, objects, Path(f"{objects}/new-folder/"), objects / "exports" / "other.xlsx",
                tmp_path / "to-objects" / "exports" / "2026-10" / stored.name, tmp_path / "to-objects",
                tmp_path / "elsewhere" / ".." / "objects" / "a.xlsx"):
        for force in (False, True):
            assert refusal(capsys, out, force) == (
                f"lifecycle: --out {shown(out)} is inside the storage folder {escaped(str(objects), 4096)} (where the "
                f"installation keeps its stored objects: workbooks, backups, keys): name a file or folder outside "
                f"it; nothing was written there\n"), out
    assert sorted(objects.rglob("*")) == before and stored.read_bytes() == b"PK the stored workbook"
    beside = tmp_path / "objects-copy" / "a.xlsx"  # a name that only begins like the folder's is outside it
    assert out_target(beside, False, "2026-11") == beside
