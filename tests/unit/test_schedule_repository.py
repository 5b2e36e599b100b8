"""The schedule repository's contract, against a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from bot.schedule import Schedule
from stockage.database import Database, open_database
from stockage.groups import Group, GroupKind, GroupRepository
from stockage.schedules import ScheduleRepository

ROOM = "!salle:example.org"
OTHER = "!autre:example.org"
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def a_group(room_id: str) -> Group:
    return Group(
        room_id=room_id,
        kind=GroupKind.SUPPORT,
        language="fr",
        timezone="America/Montreal",
        format="soutien-30",
        created_by="@anim:example.org",
        created_at=NOW,
    )


def a_schedule(room_id: str = ROOM, **changes: object) -> Schedule:
    values: dict[str, object] = {
        "room_id": room_id,
        "weekday": 1,
        "start": time(12, 0),
        "every_weeks": 2,
        "timezone": "America/Montreal",
        "anchor": date(2026, 11, 24),
    }
    values.update(changes)
    return Schedule(**values)  # type: ignore[arg-type]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_database(tmp_path / "halte.db") as database:
        for room_id in (ROOM, OTHER):
            assert await GroupRepository(database).create(a_group(room_id))
        yield database


@pytest.fixture
def repo(db: Database) -> ScheduleRepository:
    return ScheduleRepository(db)


async def test_a_room_without_schedule_has_none(repo: ScheduleRepository) -> None:
    assert await repo.get(ROOM) is None
    assert await repo.all() == []
    assert await repo.all_active() == []


async def test_save_then_get_round_trips_every_field(repo: ScheduleRepository) -> None:
    schedule = a_schedule(start=time(8, 5), timezone="Europe/Paris", every_weeks=12)
    await repo.save(schedule, NOW)
    assert await repo.get(ROOM) == schedule


async def test_stored_as_wall_clock_text(repo: ScheduleRepository, db: Database) -> None:
    await repo.save(a_schedule(start=time(8, 5)), NOW)
    row = await db.fetch_one("SELECT * FROM schedules WHERE room_id = ?", (ROOM,))
    assert row is not None
    assert (row["start_time"], row["anchor_date"], row["paused"]) == ("08:05", "2026-11-24", 0)
    assert datetime.fromisoformat(row["updated_at"]) == NOW


async def test_save_again_replaces_the_schedule_and_keeps_its_skips(
    repo: ScheduleRepository, db: Database
) -> None:
    await repo.save(a_schedule(), NOW)
    assert await repo.skip(ROOM, date(2026, 12, 22))
    later = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    changed = a_schedule(weekday=3, start=time(9, 30), every_weeks=1, anchor=date(2026, 12, 3))
    await repo.save(changed, later)
    assert await repo.get(ROOM) == replace(changed, skips=frozenset({date(2026, 12, 22)}))
    row = await db.fetch_one("SELECT updated_at FROM schedules WHERE room_id = ?", (ROOM,))
    assert row is not None
    assert datetime.fromisoformat(row["updated_at"]) == later


async def test_save_adds_the_schedule_s_own_skips(repo: ScheduleRepository) -> None:
    await repo.save(a_schedule(skips=frozenset({date(2026, 12, 8)})), NOW)
    await repo.save(a_schedule(skips=frozenset({date(2026, 12, 22)})), NOW)
    stored = await repo.get(ROOM)
    assert stored is not None
    assert stored.skips == {date(2026, 12, 8), date(2026, 12, 22)}


async def test_save_keeps_the_paused_flag_it_is_given(repo: ScheduleRepository) -> None:
    await repo.save(a_schedule(paused=True), NOW)
    stored = await repo.get(ROOM)
    assert stored is not None
    assert stored.paused


async def test_skip_once_then_again(repo: ScheduleRepository) -> None:
    await repo.save(a_schedule(), NOW)
    assert await repo.skip(ROOM, date(2026, 12, 8))
    assert not await repo.skip(ROOM, date(2026, 12, 8))
    assert await repo.skip(ROOM, date(2026, 12, 22))
    stored = await repo.get(ROOM)
    assert stored is not None
    assert stored.skips == {date(2026, 12, 8), date(2026, 12, 22)}


async def test_skip_without_a_schedule_stores_nothing(
    repo: ScheduleRepository, db: Database
) -> None:
    assert not await repo.skip(ROOM, date(2026, 12, 8))
    assert await db.fetch_all("SELECT * FROM schedule_skips") == []


async def test_skips_belong_to_their_room(repo: ScheduleRepository) -> None:
    await repo.save(a_schedule(), NOW)
    await repo.save(a_schedule(OTHER), NOW)
    assert await repo.skip(ROOM, date(2026, 12, 8))
    other = await repo.get(OTHER)
    assert other is not None
    assert other.skips == frozenset()


async def test_pause_and_resume(repo: ScheduleRepository) -> None:
    await repo.save(a_schedule(), NOW)
    assert await repo.set_paused(ROOM, True)
    stored = await repo.get(ROOM)
    assert stored is not None
    assert stored.paused
    assert await repo.all_active() == []
    assert await repo.set_paused(ROOM, False)
    assert await repo.all_active() == [a_schedule()]


async def test_pause_without_a_schedule_says_so(repo: ScheduleRepository) -> None:
    assert not await repo.set_paused(ROOM, True)


async def test_delete_removes_the_schedule_and_its_skips(
    repo: ScheduleRepository, db: Database
) -> None:
    await repo.save(a_schedule(), NOW)
    await repo.save(a_schedule(OTHER), NOW)
    await repo.skip(ROOM, date(2026, 12, 8))
    await repo.skip(OTHER, date(2026, 12, 8))
    assert await repo.delete(ROOM)
    assert await repo.get(ROOM) is None
    rows = await db.fetch_all("SELECT room_id FROM schedule_skips")
    assert [row["room_id"] for row in rows] == [OTHER]
    assert not await repo.delete(ROOM)


async def test_a_new_schedule_after_delete_starts_without_old_skips(
    repo: ScheduleRepository,
) -> None:
    await repo.save(a_schedule(), NOW)
    await repo.skip(ROOM, date(2026, 12, 8))
    await repo.delete(ROOM)
    await repo.save(a_schedule(), NOW)
    assert await repo.get(ROOM) == a_schedule()


async def test_all_and_all_active_with_their_skips(repo: ScheduleRepository) -> None:
    await repo.save(a_schedule(OTHER, paused=True), NOW)
    await repo.save(a_schedule(ROOM), NOW)
    await repo.skip(ROOM, date(2026, 12, 8))
    await repo.skip(OTHER, date(2026, 12, 22))
    room = a_schedule(ROOM, skips=frozenset({date(2026, 12, 8)}))
    other = a_schedule(OTHER, paused=True, skips=frozenset({date(2026, 12, 22)}))
    assert await repo.all() == [other, room]  # ordered by room id
    assert await repo.all_active() == [room]


async def test_a_schedule_needs_a_group(repo: ScheduleRepository) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await repo.save(a_schedule("!pas-un-groupe:example.org"), NOW)
    assert await repo.all() == []


async def test_schedules_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "halte.db"
    async with open_database(path) as database:
        await GroupRepository(database).create(a_group(ROOM))
        await ScheduleRepository(database).save(a_schedule(), NOW)
        await ScheduleRepository(database).skip(ROOM, date(2026, 12, 8))
    async with open_database(path) as database:
        assert await ScheduleRepository(database).get(ROOM) == a_schedule(
            skips=frozenset({date(2026, 12, 8)})
        )
