"""Storage: a private file, migrations applied once and atomically, repositories as promised."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import stockage.database
from stockage.database import Database, DatabaseTooNew, migration_steps, open_database
from stockage.events import ProcessedEventRepository, TransportStateRepository
from stockage.groups import Group, GroupKind, GroupRepository, MemberRepository

ROOM = "!salle:example.org"
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "halte.db"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    async with open_database(db_path) as database:
        yield database


def a_group(room_id: str = ROOM, **changes: object) -> Group:
    values: dict[str, object] = {
        "room_id": room_id,
        "kind": GroupKind.SUPPORT,
        "language": "fr",
        "timezone": "America/Montreal",
        "format": "soutien-30",
        "created_by": "@anim:example.org",
        "created_at": NOW,
    }
    values.update(changes)
    return Group(**values)  # type: ignore[arg-type]


async def tables(db: Database) -> set[str]:
    rows = await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row["name"] for row in rows}


# --- the file and the connection -----------------------------------------------------------


async def test_database_file_is_private_and_its_directory_too(db: Database, db_path: Path) -> None:
    assert mode(db_path) == 0o600
    assert mode(db_path.parent) == 0o700
    # Write something so SQLite creates its -wal and -shm files: they follow the main file.
    await GroupRepository(db).create(a_group())
    companions = [p for p in db_path.parent.iterdir() if p.name != db_path.name]
    assert companions
    for path in companions:
        assert mode(path) == 0o600, path.name


def loose_file(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.touch()
    path.chmod(0o644)


async def test_existing_file_with_loose_permissions_is_tightened(db_path: Path) -> None:
    loose_file(db_path)
    async with open_database(db_path):
        assert mode(db_path) == 0o600


async def test_pragmas(db: Database) -> None:
    assert (await db.fetch_one("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
    assert (await db.fetch_one("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
    assert (await db.fetch_one("PRAGMA busy_timeout"))[0] == stockage.database.BUSY_TIMEOUT_MS  # type: ignore[index]
    assert stockage.database.BUSY_TIMEOUT_MS > 0


async def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await MemberRepository(db).join("!not-a-group:example.org", "@a:example.org", NOW)


# --- migrations ----------------------------------------------------------------------------


def test_shipped_migrations_are_numbered_from_one() -> None:
    steps = migration_steps()
    assert [version for version, _, _ in steps] == list(range(1, len(steps) + 1))
    assert all(name.endswith(".sql") for _, name, _ in steps)


async def test_schema_version_is_the_number_of_shipped_steps(db: Database) -> None:
    assert await db.schema_version() == len(migration_steps())
    assert {"groups", "members", "processed_events", "transport_state", "direct_rooms"} <= (
        await tables(db)
    )


async def test_migrating_again_applies_nothing(db: Database, db_path: Path) -> None:
    assert await db.migrate() == []
    async with open_database(db_path) as reopened:
        assert await reopened.schema_version() == len(migration_steps())
        assert await reopened.migrate() == []


async def test_a_fresh_file_gets_every_step(db_path: Path) -> None:
    async with open_database(db_path, migrate=False) as fresh:
        assert await fresh.schema_version() == 0
        assert await fresh.migrate() == [v for v, _, _ in migration_steps()]
        assert await fresh.schema_version() == len(migration_steps())


async def test_a_database_from_a_newer_halte_is_refused(db_path: Path) -> None:
    async with open_database(db_path) as db:
        await db.execute("UPDATE schema_version SET version = version + 1")
    with pytest.raises(DatabaseTooNew, match="schema version"):
        async with open_database(db_path):
            pass


async def test_a_failing_step_leaves_the_version_and_schema_unchanged(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = migration_steps()
    broken = (
        len(shipped) + 1,
        f"{len(shipped) + 1:04d}_broken.sql",
        "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);",
    )
    monkeypatch.setattr(stockage.database, "migration_steps", lambda: [*shipped, broken])
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        await db.migrate()
    assert await db.schema_version() == len(shipped)
    assert "half_done" not in await tables(db)
    # The connection is usable afterwards: no transaction was left open.
    assert await GroupRepository(db).create(a_group())


async def test_a_later_step_applies_on_top(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = migration_steps()
    extra = (len(shipped) + 1, "extra.sql", "CREATE TABLE extra (x INTEGER);")
    monkeypatch.setattr(stockage.database, "migration_steps", lambda: [*shipped, extra])
    assert await db.migrate() == [len(shipped) + 1]
    assert await db.schema_version() == len(shipped) + 1
    assert "extra" in await tables(db)


async def test_a_failing_transaction_is_rolled_back(db: Database) -> None:
    async def write_then_fail() -> None:
        async with db.transaction() as connection:
            await connection.execute("INSERT INTO transport_state (key, value) VALUES ('k', 'v')")
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        await write_then_fail()
    assert await db.fetch_one("SELECT 1 FROM transport_state WHERE key = 'k'") is None
    async with db.transaction() as connection:
        await connection.execute("INSERT INTO transport_state (key, value) VALUES ('k', 'v')")
    assert await db.fetch_one("SELECT 1 FROM transport_state WHERE key = 'k'") is not None


# --- repositories --------------------------------------------------------------------------


async def test_groups_create_get_and_create_twice(db: Database) -> None:
    groups = GroupRepository(db)
    assert await groups.get(ROOM) is None
    group = a_group(kind=GroupKind.COMMUNITY, language="en", timezone="America/Toronto")
    assert await groups.create(group) is True
    assert await groups.get(ROOM) == group
    assert await groups.create(a_group(language="fr")) is False
    assert await groups.get(ROOM) == group, "a second create must change nothing"
    await groups.set_language(ROOM, "fr")
    fetched = await groups.get(ROOM)
    assert fetched is not None
    assert fetched.language == "fr"
    assert fetched.created_at == NOW
    assert fetched.created_at.tzinfo is not None


async def test_the_bot_leaving_and_coming_back_is_noted_once_each(db: Database) -> None:
    """Noted once: a replayed kick or join finds it already so (and says False)."""
    groups = GroupRepository(db)
    assert await groups.set_bot_left(ROOM, NOW) is False  # no group in that room
    await groups.create(a_group())
    later = NOW + timedelta(hours=1)
    assert await groups.set_bot_left(ROOM, NOW) is True
    assert await groups.set_bot_left(ROOM, later) is False
    left = await groups.get(ROOM)
    assert left is not None
    assert (left.bot_left_at, left.bot_present) == (NOW, False)
    assert await groups.set_bot_left(ROOM, None) is True
    assert await groups.set_bot_left(ROOM, None) is False
    back = await groups.get(ROOM)
    assert back is not None
    assert (back.bot_left_at, back.bot_present) == (None, True)


async def test_members_join_leave_count_list(db: Database) -> None:
    await GroupRepository(db).create(a_group())
    await GroupRepository(db).create(a_group("!autre:example.org"))
    members = MemberRepository(db)
    assert await members.join(ROOM, "@b:example.org", NOW + timedelta(minutes=1)) is True
    assert await members.join(ROOM, "@a:example.org", NOW) is True
    assert await members.join(ROOM, "@a:example.org", NOW + timedelta(hours=1)) is False
    assert await members.join("!autre:example.org", "@c:example.org", NOW) is True
    assert await members.count(ROOM) == 2
    assert await members.list(ROOM) == ["@a:example.org", "@b:example.org"]
    assert await members.is_member(ROOM, "@a:example.org")
    assert not await members.is_member(ROOM, "@c:example.org")
    assert await members.leave(ROOM, "@a:example.org") is True
    assert await members.leave(ROOM, "@a:example.org") is False
    assert await members.count(ROOM) == 1
    assert await members.list(ROOM) == ["@b:example.org"]
    assert await members.count("!autre:example.org") == 1
    assert await members.count("!nowhere:example.org") == 0


async def test_processed_events_are_claimed_once(db: Database) -> None:
    events = ProcessedEventRepository(db)
    assert not await events.seen("$e1")
    assert await events.claim("$e1", NOW) is True
    assert await events.claim("$e1", NOW + timedelta(seconds=1)) is False
    assert await events.seen("$e1")
    assert not await events.seen("$e2")


async def test_old_processed_events_are_forgotten(db: Database) -> None:
    events = ProcessedEventRepository(db)
    await events.claim("$old", NOW - timedelta(days=8))
    await events.claim("$new", NOW)
    assert await events.forget_before(NOW - timedelta(days=7)) == 1
    assert not await events.seen("$old")
    assert await events.seen("$new")


async def test_transport_state_sync_token_and_direct_rooms(db: Database, db_path: Path) -> None:
    state = TransportStateRepository(db)
    assert await state.load_sync_token() is None
    await state.save_sync_token("s1")
    await state.save_sync_token("s2")
    assert await state.load_sync_token() == "s2"
    assert await state.direct_room("@a:example.org") is None
    await state.save_direct_room("@a:example.org", "!d1:example.org")
    await state.save_direct_room("@a:example.org", "!d2:example.org")
    await state.save_direct_room("@b:example.org", "!d3:example.org")
    assert await state.direct_room("@a:example.org") == "!d2:example.org"
    assert await state.direct_room("@b:example.org") == "!d3:example.org"
    async with open_database(db_path) as reopened:
        assert await TransportStateRepository(reopened).load_sync_token() == "s2"


async def test_concurrent_writes_from_many_tasks_all_land(db: Database) -> None:
    await GroupRepository(db).create(a_group())
    members = MemberRepository(db)
    users = [f"@u{n}:example.org" for n in range(50)]
    results = await asyncio.gather(
        *(members.join(ROOM, user, NOW + timedelta(seconds=n)) for n, user in enumerate(users))
    )
    assert results == [True] * 50
    assert await members.count(ROOM) == 50
    assert await members.list(ROOM) == users


async def test_concurrent_writes_and_a_transaction_do_not_mix(db: Database) -> None:
    """Another task's write never lands inside a transaction, nor is rolled back with it."""
    await GroupRepository(db).create(a_group())
    members = MemberRepository(db)

    async def failing_transaction() -> None:
        async with db.transaction() as connection:
            await connection.execute("INSERT INTO transport_state (key, value) VALUES ('t', 'v')")
            await asyncio.sleep(0)
            raise RuntimeError("rolled back")

    results = await asyncio.gather(
        failing_transaction(),
        *(members.join(ROOM, f"@u{n}:example.org", NOW) for n in range(10)),
        return_exceptions=True,
    )
    assert isinstance(results[0], RuntimeError)
    assert results[1:] == [True] * 10
    assert await members.count(ROOM) == 10
    assert await db.fetch_one("SELECT 1 FROM transport_state WHERE key = 't'") is None
