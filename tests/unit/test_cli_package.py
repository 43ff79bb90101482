"""The CLI's shape: the table of run commands agrees with prefect.yaml, the commands that touch only the
ledger never load Prefect, and an error is told by its class."""

from __future__ import annotations

import ast
import errno
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def deployments() -> dict[str, str]:
    """prefect.yaml's deployments: name -> entrypoint (flows/x.py:function)."""
    document = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    return {deployment["name"]: deployment["entrypoint"] for deployment in document["deployments"]}


def test_every_run_command_is_one_row_of_the_table():
    from lifecycle.cli.run import RUNS, run_app

    names = [command.name for command in RUNS]
    assert len(names) == len(set(names))
    assert sorted(command.name for command in run_app.registered_commands) == sorted(names)


@pytest.mark.parametrize("name", [command.name for command in __import__("lifecycle.cli.run", fromlist=["RUNS"]).RUNS])
def test_a_rows_flow_is_its_deployments_entrypoint(name):
    """The row's flow is importable, is the function prefect.yaml runs for its deployment (so a run here and
    a run on the worker run the same code), and that flow is named as the row's deployment says."""
    from lifecycle.cli.run import RUN_COMMANDS

    command = RUN_COMMANDS[name]
    flow_name, deployment = command.deployment.split("/")
    module, function = command.flow.split(":")
    assert deployments()[deployment] == f"{module.replace('.', '/')}.py:{function}"
    flow = command.flow_function()
    assert flow.name == flow_name
    # what the command's ask gives the flow is what the flow takes: each name a parameter, none missing
    taken = inspect.signature(flow.fn).parameters
    given = returned_keys(command.ask)
    assert given <= set(taken), given - set(taken)
    assert {name for name, parameter in taken.items() if parameter.default is inspect.Parameter.empty} <= given
    # the printer reads the result typed: the row's type is a run result, the one of this flow
    from operations.results import RunResult

    result = command.result_type()
    assert issubclass(result, RunResult) and result.flow == flow_name


def returned_keys(function) -> set[str]:
    """The names of the parameters an ask returns, read from its `return {...}` (a `**other(...)` in it
    counts the other function's)."""
    module = sys.modules[function.__module__]
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    assigned = {node.targets[0].id: node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Name)}
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            for key, value in zip(node.value.keys, node.value.values):
                if key is None:  # **other(...), or **name where name = other(...)
                    call = assigned[value.id] if isinstance(value, ast.Name) else value
                    keys |= returned_keys(getattr(module, call.func.id))
                elif isinstance(key, ast.Name):  # run_options.MASTER_KEY_FILE: the run's own, run_flow takes it
                    continue                     # out; never a flow parameter
                else:
                    keys.add(key.value)
    return keys


def test_no_module_of_the_cli_is_over_400_lines():
    for module in (ROOT / "lifecycle" / "cli").glob("*.py"):
        assert len(module.read_text().splitlines()) <= 400, module.name


PROBE = """
import os, sys
from lifecycle.cli import main

for variables, argv in ({commands}):
    os.environ.update(variables)
    sys.argv = ["lifecycle", *argv]
    try:
        main()
    except SystemExit as end:
        print("END", argv[0], end.code)
print("PREFECT", sorted(name for name in sys.modules if name == "prefect" or name.startswith("prefect.")))
"""


def test_the_ledgers_commands_never_load_prefect_even_to_refuse(tmp_path):
    """`import`, `show`, `demo` and `db` answer in a second or two: neither their work nor their refusals
    (told apart from bugs by class, lifecycle.cli.errors, even those no command caught) import Prefect."""
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,name,email,monthly_fee,payment_method,billing_cycle,contract_start,vat_rate,"
                         "included_minutes,dunning_exempt\nA,Client A,a@example.com,500.00,sepa,monthly,,0.20,,false\n")
    commands = [({}, ["db", "upgrade"]), ({}, ["import", "customers", str(customers)]), ({}, ["show", "customers"]),
                ({}, ["show", "terms", "--format", "json"]),
                # refused: by the command, by a rule (the demo wants an empty ledger), and by main (uncaught)
                ({}, ["import", "customers", str(tmp_path / "missing.csv")]),
                ({}, ["show", "invoices", "--month", "2026-13"]), ({}, ["demo", "--customers", "3"]),
                ({"LIFECYCLE_DATABASE_URL": "nope://x"}, ["show", "customers"]),
                ({"LIFECYCLE_TODAY": "someday"}, ["show", "customers"])]
    env = {**os.environ, "LIFECYCLE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    for name in ("LIFECYCLE_DATABASE_URL", "LIFECYCLE_TODAY"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-c", PROBE.format(commands=repr(commands)[1:-1] + ",")], env=env,
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stdout.splitlines() if line.startswith(("END ", "PREFECT "))]
    assert said == ["END db 0", "END import 0", "END show 0", "END show 0", "END import 2", "END show 2",
                    "END demo 2", "END show 2", "END show 2", "PREFECT []"], result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-2:] == ["lifecycle: LIFECYCLE_DATABASE_URL='nope://x' names the driver 'nope', "
                                               "which this product does not drive: write sqlite:///path/to/file.db or "
                                               "postgresql+psycopg://user@host/database (postgresql:// also)",
                                               "lifecycle: LIFECYCLE_TODAY='someday' is not a day (YYYY-MM-DD); "
                                               "unset it to use the machine's clock"]


@pytest.mark.parametrize("error, mistake", [
    (FileNotFoundError(errno.ENOENT, "No such file or directory"), True),
    (PermissionError(errno.EACCES, "Permission denied"), True),
    (KeyError("x"), False),
    (ValueError("not a Refusal"), False),
], ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value))
def test_a_users_mistake_is_a_refusal_or_one_of_the_foreign_kinds_the_table_names(error, mistake):
    from lifecycle.cli.errors import users_mistake

    assert users_mistake(error) is mistake


def test_every_refusal_and_every_foreign_kind_in_the_table_exists():
    import importlib

    from ledger.imports import ImportRejected
    from ledger.locks import CustomerBusy
    from lifecycle.cli.errors import USERS_MISTAKES, users_mistake
    from lifecycle.demo import DemoExists
    from lifecycle_config.clock import MalformedToday
    from policy.ids import BadId
    from tasks.runtime import DateRefused

    for module, name in USERS_MISTAKES:  # a renamed or moved class would silently stop counting
        assert isinstance(getattr(importlib.import_module(module), name), type), (module, name)
    for refusal in (BadId("x"), CustomerBusy("x"), DateRefused("x"), ImportRejected(["x"]), DemoExists("x"),
                    MalformedToday("x")):
        assert users_mistake(refusal), refusal


def test_what_a_sweep_meets_that_is_no_bug_is_known_by_class():
    from blocks.storage import StoreUnavailable
    from operations.invoice_documents import DocumentRefused
    from tasks.runtime import known_outcomes

    assert DocumentRefused in known_outcomes() and issubclass(StoreUnavailable, known_outcomes())
