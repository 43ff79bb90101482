"""What a run command's flow returns, typed: one dataclass a command, its fields the keys of the flow's result.

A flow returns `summary()`, a dict of JSON values (Prefect stores it as JSON, and `run_deployment` hands the
command line that dict back from the server); the command line rebuilds the type with `from_summary` and
reads its fields, in process or against a server alike. A key the type does not know, or one it misses, is
refused there: the flow and its printer cannot drift apart silently.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

Result = TypeVar("Result", bound="RunResult")

#: the types a summary holds as text, each with how it is read back
_FROM_TEXT: dict[type, Any] = {Decimal: Decimal, datetime: datetime.fromisoformat, date: date.fromisoformat}


def _plain(value: Any) -> Any:
    """A field's value as the summary holds it: an amount or a day as text; the rest (lists, dicts of JSON
    values) as it is, for Prefect to store as before."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _typed(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    options = typing.get_args(kind) if typing.get_origin(kind) in (typing.Union, types.UnionType) else (kind,)
    for option in options:
        if option in _FROM_TEXT and isinstance(value, str):
            return _FROM_TEXT[option](value)
        if typing.get_origin(option) is None and isinstance(option, type) and issubclass(option, StrEnum):
            # a word of policy.vocabulary
            return option(value)
    return value


@dataclasses.dataclass(frozen=True)
class RunResult:
    """The typed result of one run command (a subclass a command)."""

    flow: ClassVar[str] = ""  # the flow whose result it is, for the one-line error of a summary that differs

    def summary(self) -> dict:
        """The flow's result as Prefect stores it: JSON values only (amounts and days as text)."""
        return {field.name: _plain(getattr(self, field.name)) for field in dataclasses.fields(self)}

    @classmethod
    def from_summary(cls: type[Result], summary: dict) -> Result:
        """The result rebuilt from what the flow returned (in process, or from the server); a field with a
        default may be left out."""
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)
        names = [field.name for field in fields]
        unknown = sorted(set(summary) - set(names))
        missing = [field.name for field in fields if field.name not in summary
                   and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING]
        if unknown or missing:
            raise ValueError(f"the {cls.flow or cls.__name__} run's result does not match {cls.__name__}: "
                             + "; ".join(([f"unknown {', '.join(unknown)}"] if unknown else [])
                                         + ([f"missing {', '.join(missing)}"] if missing else [])))
        return cls(**{name: _typed(hints[name], summary[name]) for name in names if name in summary})
