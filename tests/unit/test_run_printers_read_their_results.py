"""Each `lifecycle run X` printer reads only what its run's result has: a printer is reached only after a run on
the worker or in process, so a name the result does not have was found by a user (probe 15's `deleted
meanwhile` read `NightDone.outcomes`, a name of the night, not of its result: every `run backup` ended in a
traceback after a good night). Each printer's `result.NAME` is checked against the result type it is typed
with: a field of the dataclass, or one of its attributes (method, property, class variable)."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect

from lifecycle.cli import run_printers


def _result_types() -> dict[str, type]:
    """The result types the printers are typed with, by name (imported for type checking only)."""
    tree = ast.parse(inspect.getsource(run_printers))
    types = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("operations."):
            module = importlib.import_module(node.module)
            for alias in node.names:
                types[alias.asname or alias.name] = getattr(module, alias.name)
    return types


def _reads(function: ast.FunctionDef, parameter: str) -> set[str]:
    return {node.attr for node in ast.walk(function)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == parameter}


def test_every_printer_reads_only_names_its_result_has():
    types = _result_types()
    tree = ast.parse(inspect.getsource(run_printers))
    checked, unknown = 0, []
    for function in (node for node in tree.body if isinstance(node, ast.FunctionDef)):
        for argument in function.args.args:
            annotation = argument.annotation
            if not (isinstance(annotation, ast.Name) and annotation.id in types):
                continue
            kind = types[annotation.id]
            names = {field.name for field in dataclasses.fields(kind)} | set(dir(kind))
            unknown += [f"{function.name}: {annotation.id}.{name}" for name in _reads(function, argument.arg)
                        if name not in names]
            checked += 1
    assert checked >= 15, checked   # every printer typed with its result is seen
    assert unknown == []
