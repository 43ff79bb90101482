"""The ledger's own column types: what SQLAlchemy stores one way and the code reads another.

An instant is stored in UTC and read back aware on both databases; a word of the vocabulary is stored as
its string and read back as its StrEnum member."""

from __future__ import annotations

from datetime import timezone

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator):
    """An instant stored in UTC and always read back time-zone aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("instants must carry a time zone")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Vocabulary(TypeDecorator):
    """A column of the project's vocabulary (policy/vocabulary.py, the arrears stages, the standby reasons):
    stored as its plain string, as before, and read back as the StrEnum member, so code compares members,
    never bare strings. A value outside the enumeration fails at the write (and the CHECK constraint
    `one_of` says the same in the database)."""

    impl = String
    cache_ok = True

    def __init__(self, enum, length: int):
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value, dialect):
        return None if value is None else str(self.enum(value))

    def process_result_value(self, value, dialect):
        return None if value is None else self.enum(value)
