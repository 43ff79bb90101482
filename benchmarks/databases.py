"""Where a benchmark's data lives: SQLite files, or databases of its own on a PostgreSQL server.

Each measurement runs on a fresh copy of the generated data. On SQLite a copy is a copy of the file
(after folding the write-ahead log into it); on PostgreSQL it is `CREATE DATABASE ... TEMPLATE`, a
file-level copy the server makes without replaying a row. The generated databases are kept between
runs (`ready` on SQLite, the final name on PostgreSQL: a database is renamed to it only once complete);
the copies are dropped after each measurement, and `--drop` drops the generated ones at the end too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, text

#: the server: LIFECYCLE_BENCH_PG (as benchmarks/scale_out.py), else the test suite's LIFECYCLE_TEST_PG, else local
PG_ADMIN = os.environ.get("LIFECYCLE_BENCH_PG") or os.environ.get("LIFECYCLE_TEST_PG") \
    or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PREFIX = "lifecycle_bench_"


class SqliteFiles:
    """Databases as files under the output folder."""

    name = "sqlite"

    def __init__(self, out: Path):
        self.out = out

    def source(self, label: str) -> tuple[str, bool]:
        """The URL of the generated database `label`, and whether it is already complete."""
        folder = self.out / f"sqlite-{label}"
        if not (folder / "ready").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            return f"sqlite:///{folder / 'data.db'}", False
        return f"sqlite:///{folder / 'data.db'}", True

    def done(self, label: str, url: str) -> None:
        """Fold the write-ahead log into the file, so that copying the file copies everything."""
        _checkpoint(url)
        (_path(url).parent / "ready").write_text(label)

    def copy(self, source: str, work: Path, name: str) -> str:
        _checkpoint(source)
        target = work / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        shutil.copy(_path(source), target)
        return f"sqlite:///{target}"

    def empty(self, work: Path, name: str) -> str:
        target = work / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(str(_path(url)) + suffix).unlink(missing_ok=True)

    def finish(self, drop_sources: bool) -> None:
        if drop_sources:
            for folder in self.out.glob("sqlite-*"):
                shutil.rmtree(folder, ignore_errors=True)

    def describe(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}, files under {self.out}"


def _path(url: str) -> Path:
    return Path(url[len("sqlite:///"):])


def _checkpoint(url: str) -> None:
    from lifecycle_config.databases import engine_for

    engine_for(url).dispose()
    with sqlite3.connect(_path(url)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class PostgresDatabases:
    """Databases named lifecycle_bench_<folder>_* on one PostgreSQL server, made and dropped by the harness."""

    name = "postgresql"

    def __init__(self, out: Path, admin_url: str = PG_ADMIN):
        # the output folder names the run's databases, as it holds the SQLite files: two harnesses with
        # their own folders (a test's and a user's) never share or drop each other's data
        self.prefix = f"{PREFIX}{hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:6]}_"
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.made: list[str] = []
        with self.admin.connect() as connection:
            self.version = connection.scalar(text("SHOW server_version"))

    def _url(self, database: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + f"/{database}"

    def _exists(self, database: str) -> bool:
        with self.admin.connect() as connection:
            return bool(connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}))

    def _execute(self, statement: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(statement))

    def source(self, label: str) -> tuple[str, bool]:
        database = self.prefix + label.lower().replace("-", "_")
        if self._exists(database):
            return self._url(database), True
        partial = database + "_partial"   # a generation killed half-way is never mistaken for data
        self._execute(f'DROP DATABASE IF EXISTS "{partial}" WITH (FORCE)')
        self._execute(f'CREATE DATABASE "{partial}"')
        return self._url(partial), False

    def done(self, label: str, url: str) -> None:
        from lifecycle_config.databases import engine_for

        engine_for(url).dispose()
        partial = url.rsplit("/", 1)[-1]
        # planner statistics live in the database's own catalog, so every copy made from it has them
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))
        engine.dispose()
        self._execute(f'ALTER DATABASE "{partial}" RENAME TO "{partial.removesuffix("_partial")}"')

    def copy(self, source: str, work: Path, name: str) -> str:
        from lifecycle_config.databases import engine_for

        engine_for(source).dispose()
        database = self.prefix + "work_" + name.lower().replace("-", "_")
        self._execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self._execute(f'CREATE DATABASE "{database}" TEMPLATE "{source.rsplit("/", 1)[-1]}"')
        self.made.append(database)
        return self._url(database)

    def empty(self, work: Path, name: str) -> str:
        database = self.prefix + "work_" + name.lower().replace("-", "_")
        self._execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self._execute(f'CREATE DATABASE "{database}"')
        self.made.append(database)
        return self._url(database)

    def drop(self, url: str) -> None:
        from lifecycle_config.databases import engine_for

        engine_for(url).dispose()
        self._execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[-1]}" WITH (FORCE)')

    def finish(self, drop_sources: bool) -> None:
        for database in self.made:
            self._execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if drop_sources:
            with self.admin.connect() as connection:
                names = connection.scalars(text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                           {"p": self.prefix + "%"}).all()
            for database in names:
                self._execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self.admin.dispose()

    def describe(self) -> str:
        return f"PostgreSQL {self.version} at {self.admin_url.split('@')[-1].rsplit('/', 1)[0]}"


def store_for(database: str, out: Path):
    return PostgresDatabases(out) if database == "postgresql" else SqliteFiles(out)
