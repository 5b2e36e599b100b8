"""The connection: pragmas, file permissions, serialised transactions, migrations.

One aiosqlite connection runs every query on its own thread, so the event loop never blocks on
disk. Because tasks share that connection, writes go through one lock: otherwise a statement
from one task could land inside another task's open transaction and be rolled back with it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


class DatabaseTooNew(Exception):
    """The file was migrated by a newer Halte; running older code on it could corrupt it."""


def migration_steps() -> list[tuple[int, str, str]]:
    """The shipped migrations as (version, name, sql), in order. Never edit a released step."""
    steps = []
    for entry in resources.files("stockage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            steps.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    steps.sort()
    versions = [version for version, _, _ in steps]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations are not numbered 1..n: {versions}")
    return steps


class Database:
    """An open SQLite database. Use `open_database()` to get one."""

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the block in one write transaction (BEGIN IMMEDIATE), committed on success."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One write statement in its own transaction; returns the number of rows changed."""
        async with self._lock:
            cursor = await self._db.execute(sql, tuple(params))
            return cursor.rowcount

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock, self._db.execute(sql, tuple(params)) as cursor:
            return await cursor.fetchone()

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock, self._db.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())

    async def schema_version(self) -> int:
        row = await self.fetch_one(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        )
        if row is None:
            return 0
        row = await self.fetch_one("SELECT version FROM schema_version")
        return 0 if row is None else int(row[0])

    async def migrate(self) -> list[int]:
        """Apply every pending step, each in its own transaction; returns the versions applied."""
        steps = migration_steps()
        current = await self.schema_version()
        latest = steps[-1][0] if steps else 0
        if current > latest:
            raise DatabaseTooNew(
                f"{self.path} is at schema version {current}, this Halte knows up to {latest}"
            )
        applied = []
        for version, name, sql in steps:
            if version <= current:
                continue
            # executescript() commits anything pending, then runs the script as is: the
            # explicit BEGIN/COMMIT makes the step and its version bump one transaction.
            script = (
                "BEGIN IMMEDIATE;\n"
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);\n"
                f"{sql}\n"
                "DELETE FROM schema_version;\n"
                f"INSERT INTO schema_version (version) VALUES ({version});\n"
                "COMMIT;"
            )
            async with self._lock:
                try:
                    await self._db.executescript(script)
                except BaseException:
                    if self._db.in_transaction:
                        await self._db.execute("ROLLBACK")
                    raise
            log.info("migration applied: %s", name)
            applied.append(version)
        return applied

    async def close(self) -> None:
        await self._db.close()


def _create_private_file(path: Path) -> None:
    """Create the database file 0600 before SQLite does (SQLite would honour the umask).

    SQLite gives its -wal and -shm files the permissions of the main file.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


@asynccontextmanager
async def open_database(path: Path, *, migrate: bool = True) -> AsyncIterator[Database]:
    """Open (creating if needed) the database at `path`, with our pragmas, migrated."""
    _create_private_file(path)
    connection = await aiosqlite.connect(path, isolation_level=None)
    connection.row_factory = aiosqlite.Row
    try:
        await connection.execute("PRAGMA foreign_keys = ON")
        await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await connection.execute("PRAGMA journal_mode = WAL")
        # FULL: a parked item confirmed to a member must survive a power cut, not only a crash.
        await connection.execute("PRAGMA synchronous = FULL")
        database = Database(connection, path)
        if migrate:
            await database.migrate()
        yield database
    finally:
        await connection.close()
