"""How the CLI tells a user's mistake from the world and from a bug, for an error no command caught.

A user's mistake is a Refusal (policy.refusals: every refusal of the product derives from it, so it is
recognised by its class, never by its name), or one of the few exceptions of other packages below that,
reaching the command line, can only come from what the user gave: a path, a database URL, LIFECYCLE_TODAY.
They cannot derive from Refusal: they are not ours, or (MalformedToday) they live in lifecycle_config, the
leaf that imports nothing of the project. Our own StorageError is here too rather than a Refusal: it is the
base of StoreUnavailable (a condition of the world, lifecycle_config.conditions), and a Refusal there
would turn a store that is down into a refusal in every run.

Errors that are neither, and stay so on purpose: a damaged or missing backup (operations.backup_archive), a
stored document that differs from the ledger's (operations.invoice_documents.DocumentRefused), the platform's
answer (blocks.platform.PlatformError). They are not the asker's mistake, so not exit 2; a run reports
them in one line per customer (tasks.runtime.known_outcomes), and the command exits 1. Nor are these,
which never reach the command line as they are: a webhook request refused or seen before
(policy.signing.Refused, ledger.webhooks.AlreadySeen: an HTTP answer with its status, to the sender), a
cell's date out of range or a wall-clock time DST skips (ledger.imports.cells.DateOutOfRange,
policy.calendar.NonexistentLocalTime: the import turns them into its row's error), a run that failed
(lifecycle.runner.RunFailed, which carries whether it was refused), and the guards whose meeting is a bug
(policy.invoicing.NegativeInvoice, policy.language.MissingMessage).
"""

from __future__ import annotations

import re
import sys
from typing import Optional

#: exceptions of other modules that are the user's mistake when they reach here, as (module, class): each is
#: recognised only once its module is loaded (an error of a module never imported cannot have been raised),
#: so telling the kind of an error never imports Prefect or a database driver
USERS_MISTAKES = (
    # a path the user named (a file to import, a folder to write to, LIFECYCLE_HOME): missing, of the wrong
    # kind, not allowed, or taken
    ("builtins", "FileNotFoundError"),
    ("builtins", "IsADirectoryError"),
    ("builtins", "NotADirectoryError"),
    ("builtins", "PermissionError"),
    ("builtins", "FileExistsError"),
    # a database URL (LIFECYCLE_DATABASE_URL, db restore-snapshot --to): one that does not parse, names a
    # driver that is not installed, or a database that cannot be opened as named
    ("sqlalchemy.exc", "ArgumentError"),
    ("sqlalchemy.exc", "NoSuchModuleError"),
    ("sqlalchemy.exc", "OperationalError"),
    ("sqlite3", "OperationalError"),
    ("psycopg", "OperationalError"),
    # LIFECYCLE_TODAY set to something that is not a day, a LIFECYCLE_* path or URL that cannot be used as it
    # is (the leaf cannot know policy's Refusal)
    ("lifecycle_config.clock", "MalformedToday"),
    ("lifecycle_config", "Misconfigured"),
    # a storage URL or key that is not one (LIFECYCLE_STORAGE_URL)
    ("blocks.storage", "StorageError"),
)


def users_mistake(error: BaseException) -> bool:
    """Whether `error` is the user's to fix: a Refusal, or one of USERS_MISTAKES."""
    from policy.refusals import Refusal

    if isinstance(error, Refusal):
        return True
    kinds = tuple(getattr(sys.modules[module], name) for module, name in USERS_MISTAKES if module in sys.modules)
    return isinstance(error, kinds)


def argument_problem(arguments: list[str]) -> Optional[str]:
    """Why an argument is refused before any command runs: bytes that are not UTF-8 (Python hands them over
    as lone surrogates, which no ledger, mail or file could hold), a control character or a line break in a
    text the ledger would keep (a --reason, a --requested-by, a --reference), print or mail. Every command,
    every argument: the option is named, the command never starts."""
    from policy.text import control_problem

    for position, argument in enumerate(arguments):
        option, equals, value = argument.partition("=")
        joined = argument.startswith("--") and equals  # --option=value: the value's characters are counted
        problem = _not_utf8(value if joined else argument) or control_problem(value if joined else argument)
        if problem:
            if not joined:
                previous = arguments[position - 1] if position else ""
                option = previous if previous.startswith("-") else f"argument {position + 1}"
            # an option's name is shown as typed, its stray bytes as \xNN
            option = option.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            return f"{option}: {problem}"
    return None


def _not_utf8(argument: str) -> Optional[str]:
    """Why an argument's bytes are refused: some are not UTF-8 (the terminal's or the script's encoding is
    another), named by position and value."""
    from policy.text import utf8_problem

    return utf8_problem(argument)


#: a quoted value in a message of typer or click (`'xml'`, `"it's"`), as `repr` writes it
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'" + r'|"(?:[^"\\]|\\.)*"')


def usage_line(error: BaseException) -> Optional[str]:
    """A mistake typer or click found in the command line (an unknown command or option, a value not among
    an option's choices, a missing option) as one line: the command and the option named, the allowed values
    listed, the value given back cut short (policy.text.quoted), where they print a usage box echoing it
    whole. None: `error` is not such a mistake. (typer carries its own copy of click in recent releases:
    its classes are told by name, from typer's own BadParameter, never by the installed click's.)"""
    import typer

    kinds = {kind.__name__: kind for kind in type.mro(typer.BadParameter)}
    if "ClickException" not in kinds or not isinstance(error, kinds["ClickException"]):
        return None
    names, context = [], getattr(error, "ctx", None)
    while context is not None and context.parent is not None:
        names.insert(0, context.info_name)
        context = context.parent
    message = " ".join(error.format_message().split())
    message = message.replace("Invalid value for ", "").replace(": Value error, ", " ").rstrip(".")
    message = re.sub(r"^'([\w-]+)' ", r"\1 ", message)  # the option or argument named as typed: --format
    message = _QUOTED.sub(lambda found: _shortened(found.group(0)), message)
    # an unknown option is given back unquoted (`No such option: --xxxx...`): cut as well
    message = re.sub(r"\S{81,}", lambda found: f"{found.group(0)[:40]}… ({len(found.group(0)):,} characters)", message)
    command = " ".join(["lifecycle", *names])
    return f"{' '.join(names) + ': ' if names else ''}{message} (`{command} --help` says what it takes)"


def _shortened(literal: str) -> str:
    import ast

    from policy.text import quoted

    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return literal
    return quoted(value) if isinstance(value, str) else literal
