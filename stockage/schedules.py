"""Schedules (one per group) and their skipped dates, which survive restarts.

A schedule row holds wall-clock facts (weekday, `HH:MM`, zone, anchor date), never a computed
UTC instant: the instants are derived by `bot.schedule` each time, so a tzdata update or a DST
rule change is honoured without rewriting rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time

import aiosqlite

from bot.schedule import Schedule
from stockage.database import Database

_COLUMNS = "room_id, weekday, start_time, every_weeks, timezone, anchor_date, paused"


def _schedule(row: aiosqlite.Row, skips: Iterable[date]) -> Schedule:
    return Schedule(
        room_id=row["room_id"],
        weekday=row["weekday"],
        start=time.fromisoformat(row["start_time"]),
        every_weeks=row["every_weeks"],
        timezone=row["timezone"],
        anchor=date.fromisoformat(row["anchor_date"]),
        paused=bool(row["paused"]),
        skips=frozenset(skips),
    )


class ScheduleRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, room_id: str) -> Schedule | None:
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM schedules WHERE room_id = ?", (room_id,)
        )
        if row is None:
            return None
        skips = await self._db.fetch_all(
            "SELECT day FROM schedule_skips WHERE room_id = ?", (room_id,)
        )
        return _schedule(row, (date.fromisoformat(skip["day"]) for skip in skips))

    async def save(self, schedule: Schedule, now: datetime) -> None:
        """Create or replace the room's schedule.

        Skips already stored are kept (a holiday stays cancelled when the time changes) and the
        schedule's own skips are added: nothing here ever forgets a cancelled date.
        """
        async with self._db.transaction() as connection:
            await connection.execute(
                f"INSERT INTO schedules ({_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (room_id) DO UPDATE SET weekday = excluded.weekday,"
                " start_time = excluded.start_time, every_weeks = excluded.every_weeks,"
                " timezone = excluded.timezone, anchor_date = excluded.anchor_date,"
                " paused = excluded.paused, updated_at = excluded.updated_at",
                (
                    schedule.room_id,
                    schedule.weekday,
                    schedule.start.strftime("%H:%M"),
                    schedule.every_weeks,
                    schedule.timezone,
                    schedule.anchor.isoformat(),
                    int(schedule.paused),
                    now.isoformat(),
                ),
            )
            await connection.executemany(
                "INSERT INTO schedule_skips (room_id, day) VALUES (?, ?)"
                " ON CONFLICT (room_id, day) DO NOTHING",
                [(schedule.room_id, day.isoformat()) for day in sorted(schedule.skips)],
            )

    async def delete(self, room_id: str) -> bool:
        """Remove the schedule and its skips; False if the room had no schedule."""
        async with self._db.transaction() as connection:
            await connection.execute("DELETE FROM schedule_skips WHERE room_id = ?", (room_id,))
            cursor = await connection.execute("DELETE FROM schedules WHERE room_id = ?", (room_id,))
            return cursor.rowcount == 1

    async def set_paused(self, room_id: str, paused: bool) -> bool:
        """Pause or resume; False if the room has no schedule."""
        changed = await self._db.execute(
            "UPDATE schedules SET paused = ? WHERE room_id = ?", (int(paused), room_id)
        )
        return changed == 1

    async def skip(self, room_id: str, day: date) -> bool:
        """Cancel the check-in of local date `day`; False if already cancelled or no schedule.

        A skip without a schedule would outlive the `delete` meant to remove it with its schedule.
        """
        changed = await self._db.execute(
            "INSERT INTO schedule_skips (room_id, day)"
            " SELECT ?, ? WHERE EXISTS (SELECT 1 FROM schedules WHERE room_id = ?)"
            " ON CONFLICT (room_id, day) DO NOTHING",
            (room_id, day.isoformat(), room_id),
        )
        return changed == 1

    async def all_active(self) -> list[Schedule]:
        """Every schedule not paused: what the scheduler arms at start."""
        return await self._load("WHERE paused = 0")

    async def all(self) -> list[Schedule]:
        return await self._load("")

    async def _load(self, where: str) -> list[Schedule]:
        # Two queries for the whole list rather than one per group.
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM schedules {where} ORDER BY room_id"
        )
        skips: defaultdict[str, list[date]] = defaultdict(list)
        for skip in await self._db.fetch_all("SELECT room_id, day FROM schedule_skips"):
            skips[skip["room_id"]].append(date.fromisoformat(skip["day"]))
        return [_schedule(row, skips[row["room_id"]]) for row in rows]
