"""The benchmarks' arguments (probe 14): a mistake is argparse's one line and exit 2 before anything starts. An
`--out` naming a file printed a FileExistsError traceback; `--customers -5 --mb -1` began generating a platform
and died in SQLAlchemy; `--big-mb -1` was taken as a size."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module, args, said", [
    ("benchmarks", ["--out", "FILE"], "is a file, not a folder"),
    ("benchmarks", ["--out", "FILE/under"], "is a file, not a folder"),
    ("benchmarks", ["--big-mb", "-1"], "--big-mb: -1 is out of range"),
    ("benchmarks", ["--seed", "x"], "--seed: 'x' is not a whole number"),
    ("benchmarks.scale_out", ["--customers", "-5"], "--customers: -5 is out of range"),
    ("benchmarks.scale_out", ["--mb", "nan"], "--mb: nan is out of range"),
    ("benchmarks.scale_out", ["--mb", "-1"], "--mb: -1 is out of range"),
    ("benchmarks.scale_out", ["--shard-size", "0"], "--shard-size: 0 is out of range"),
    ("benchmarks.scale_out", ["--workers", "1", "0"], "--workers: 0 is out of range"),
    ("benchmarks.scale_out", ["--out", "FILE"], "is a file, not a folder"),
    ("benchmarks.einvoicing_deposit", ["--ledger", "sqlite:///FILE", "--parallel", "0"],
     "--parallel: 0 is out of range"),
    ("benchmarks.einvoicing_deposit", ["--ledger", "sqlite:///FILE", "--delay", "nan"], "--delay: nan is out of range"),
])
def test_a_mistaken_benchmark_argument_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, module, args, said):
    """The benchmark's own main(), in this process (argparse refuses before anything starts; a process of its
    own cost ~1 s of CPU a case): a value argparse let through stops the benchmark right after parsing."""
    file = tmp_path / "notes.txt"
    file.write_text("x")
    argv = [arg.replace("FILE", str(file)) for arg in args]
    parse_args = argparse.ArgumentParser.parse_args

    def parse_then_stop(parser, *given, **options):
        parsed = parse_args(parser, *given, **options)
        if not given or given[0] is None:   # the benchmark's own command line, not a parser inside it
            raise AssertionError(f"{module} {' '.join(argv)}: accepted, the benchmark would start")
        return parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.setattr(sys, "argv", [f"{module.replace('.', '/')}.py", *argv])
    monkeypatch.chdir(ROOT)
    main = importlib.import_module("benchmarks.__main__" if module == "benchmarks" else module).main
    with pytest.raises(SystemExit) as done:
        main()
    err = capsys.readouterr().err
    assert done.value.code == 2 and "Traceback" not in err, err
    assert said in err.strip().splitlines()[-1]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]  # nothing made
