"""The shape of a backup's tables, kept in its manifest, so a restore sees when the platform changed since.

An in-place restore over a changed schema writes NULLs or defaults where live data had values: a
column renamed `operations.title` → `headline` came back empty for the whole customer, billed and
audited as a success. So each table of the manifest records its columns (name, generic type,
nullable, whether it has a default, primary key); before writing in place the restore compares them
with the live tables and refuses on any difference, listing them all. Ops who really mean a rename
say so with `--map-columns operations.title=headline` (audited). The sandbox is built from the
backup's own schema, so a drill never depends on the live one.

Manifests written before this change list column names only: their names are compared, not types.
"""

from __future__ import annotations

import inspect

from sqlalchemy import Column, MetaData, Table, types

from policy.refusals import Refusal

#: the generic types a schema names, and the parameters that make two of them differ
GENERIC = {kind.__name__: kind for kind in (
    types.Integer, types.BigInteger, types.SmallInteger, types.String, types.Text, types.Unicode, types.UnicodeText,
    types.Numeric, types.Float, types.Double, types.Boolean, types.Date, types.DateTime, types.Time, types.Interval,
    types.LargeBinary, types.JSON, types.Uuid)}
PARAMETERS = ("length", "precision", "scale", "timezone")


class SchemaDrift(Refusal, ValueError):
    """The live tables differ from the backup's: restoring in place would lose data."""


def _generic(column_type) -> types.TypeEngine:
    if isinstance(column_type, types.TypeDecorator):  # the ledger's own types: what they store
        column_type = column_type.impl_instance
    try:
        generic = column_type.as_generic()
    except NotImplementedError:
        return types.Text()
    return generic if type(generic).__name__ in GENERIC else types.Text()


def describe(table: Table) -> list[dict]:
    """A table's columns as the manifest keeps them."""
    described = []
    for column in table.columns:
        generic = _generic(column.type)
        entry = {"name": column.name, "type": type(generic).__name__, "nullable": bool(column.nullable),
                 "default": column.server_default is not None or column.default is not None,
                 "primary_key": bool(column.primary_key)}
        for parameter in PARAMETERS:
            value = getattr(generic, parameter, None)
            if value is not None and value is not False:
                entry[parameter] = value
        described.append(entry)
    return described


def _type_text(entry: dict) -> str:
    details = ", ".join(f"{p}={entry[p]}" for p in PARAMETERS if p in entry)
    return f"{entry['type']}({details})" if details else entry["type"]


#: the bounds of `--map-columns` (the form's `map_columns`): a handful of renames since a backup, never a script
MAP_COLUMNS_LENGTH, MAP_COLUMNS_RENAMES, NAME_LENGTH = 2000, 50, 63


def parse_renames(text: str | None) -> dict[str, dict[str, str]]:
    """`operations.title=headline,notes.body=text` → {"operations": {"title": "headline"}, ...}: at most
    MAP_COLUMNS_LENGTH characters and MAP_COLUMNS_RENAMES renames, each column renamed once, each name an SQL
    identifier (blocks.forms: a letter or _, then letters, digits or _, NAME_LENGTH characters at most, as
    PostgreSQL keeps them). Checked by the CLI before any run starts and again by the run: text like
    `t.a=b; DROP TABLE x` or a quoted name was taken as a rename and refused later as a changed schema."""
    from blocks.forms import identifier_problem
    from policy.text import quoted

    text = text or ""
    if len(text) > MAP_COLUMNS_LENGTH:
        raise SchemaDrift(f"--map-columns is {len(text)} characters long: at most {MAP_COLUMNS_LENGTH} (name the "
                          f"columns renamed since the backup, table.old=new, separated by commas)")
    parts = [piece.strip() for piece in text.split(",") if piece.strip()]
    if len(parts) > MAP_COLUMNS_RENAMES:
        raise SchemaDrift(f"--map-columns names {len(parts)} renames: at most {MAP_COLUMNS_RENAMES}")
    renames: dict[str, dict[str, str]] = {}
    for part in parts:
        old, equals, new = part.partition("=")
        table, dot, column = (name.strip() for name in old.partition("."))
        new = new.strip()
        if not (equals and dot and table and column and new) or "." in new or "=" in new:
            raise SchemaDrift(f"--map-columns {quoted(part)}: write table.old_column=new_column")
        for name in (table, column, new):
            problem = identifier_problem(name)
            if problem:
                raise SchemaDrift(f"--map-columns {quoted(part)}: {problem}")
        if column in renames.get(table, {}):
            raise SchemaDrift(f"--map-columns {table}.{column}: renamed twice; name it once")
        renames.setdefault(table, {})[column] = new
    return renames


def drift(manifest: dict, live: list[Table], renames: dict[str, dict[str, str]] | None = None) -> list[str]:
    """Every difference between the backup's tables and the live ones that an in-place restore would turn
    into lost data, in words; empty when it is safe. `renames` maps a backup column to its live name."""
    renames = renames or {}
    live_by_name = {table.name: table for table in live}
    backed_up = {copy["name"]: copy for copy in manifest["tables"]}
    differences = [f"--map-columns {name}.{old}: the backup has no such table" for name, mapping in renames.items()
                   if name not in backed_up for old in mapping]
    differences += [f"table {name}: in the backup, missing on the platform" for name in backed_up
                    if name not in live_by_name]
    differences += [f"table {name}: on the platform, not in the backup (its rows would be deleted)"
                    for name in live_by_name if name not in backed_up]
    for name, copy in backed_up.items():
        table = live_by_name.get(name)
        if table is None:
            continue
        mapping = renames.get(name, {})
        unknown = [old for old in mapping if old not in copy["columns"]]
        differences += [f"--map-columns {name}.{old}: the backup has no such column" for old in unknown]
        saved = {mapping.get(entry["name"], entry["name"]): entry for entry in copy.get("schema")
                 or [{"name": column} for column in copy["columns"]]}
        current = {entry["name"]: entry for entry in describe(table)}
        for column, entry in saved.items():
            now = current.get(column)
            if now is None:
                differences.append(f"{name}.{column}: in the backup, missing on the platform (renamed or dropped?)")
            elif "type" in entry and _type_text(entry) != _type_text(now):
                differences.append(f"{name}.{column}: {_type_text(entry)} in the backup, {_type_text(now)} now")
            elif "nullable" in entry and entry["nullable"] and not now["nullable"]:
                differences.append(f"{name}.{column}: may be empty in the backup, NOT NULL now")
        for column, now in current.items():
            if column not in saved:
                differences.append(f"{name}.{column}: new on the platform, not in the backup ("
                                   + ("NOT NULL without a default: the restore has no value for it)"
                                      if not now["nullable"] and not now["default"]
                                      else "its live values would be replaced by its default)"))
    return differences


def tables_from(manifest: dict, metadata: MetaData | None = None) -> list[Table] | None:
    """The backup's tables as it saw them (generic types, no defaults), to build a sandbox from;
    None for a manifest that kept column names only."""
    if not all("schema" in copy for copy in manifest["tables"]):
        return None
    metadata = metadata or MetaData()
    built = []
    for copy in manifest["tables"]:
        columns = []
        for entry in copy["schema"]:
            kind = GENERIC.get(entry["type"], types.Text)
            accepted = inspect.signature(kind).parameters
            arguments = {p: entry[p] for p in PARAMETERS if p in entry and p in accepted}
            columns.append(Column(entry["name"], kind(**arguments), nullable=entry["nullable"],
                                  primary_key=entry["primary_key"]))
        built.append(Table(copy["name"], metadata, *columns))
    return built
