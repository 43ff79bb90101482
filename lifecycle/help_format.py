"""`--help` that reads well at any width: no type shown for a flag, and sentences wrapped by rich, not by
the line breaks of the docstrings they come from.

Typer's rich help prints each option's type in a column, which for a flag (`--force`, `--help`) is a
meaningless `<bool>`; and in the list of commands it keeps the single line breaks of a multi-line
docstring, so a sentence breaks where the source file did rather than where the terminal does. The
group class below tidies every command under it once, when the command tree is built.
"""

from __future__ import annotations

from typer.core import TyperGroup


def one_paragraph_per_line(text: str | None) -> str | None:
    """Join the lines of each paragraph (paragraphs are separated by a blank line); a paragraph that starts
    with click's no-rewrap marker \\b keeps its lines."""
    if not text:
        return text
    import inspect

    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(paragraph if paragraph.startswith("\b") else " ".join(line.strip() for line in paragraph.splitlines())
                       for paragraph in paragraphs)


def _tidy(command) -> None:
    """(typer carries its own copy of click: its classes are not the installed click's, so no isinstance)"""
    command.help = one_paragraph_per_line(command.help)
    command.short_help = one_paragraph_per_line(command.short_help)
    help_option = command.get_help_option(command.context_class(command))
    for parameter in [*command.params, *([help_option] if help_option is not None else [])]:
        if getattr(parameter, "param_type_name", None) == "option" and getattr(parameter, "is_flag", False):
            parameter.metavar = ""  # a flag takes no value: nothing to show in the type column
        if getattr(parameter, "help", None):
            parameter.help = one_paragraph_per_line(parameter.help)
    for child in getattr(command, "commands", {}).values():
        _tidy(child)


class ReadableHelp(TyperGroup):
    """The `lifecycle` command groups: their commands' help tidied as the module docstring says."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _tidy(self)
