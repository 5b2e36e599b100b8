"""The parking lot: items parked for the team meeting, and the agendas they went on.

Every change is one transaction; an item is never deleted here (its author's erasure is the
privacy commands' business), so nothing parked is ever lost by a merge or a removal.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from bot.schedule import Schedule
from stockage.database import Database

# Longest text a person may park, in characters (the command says so when refused).
MAX_TEXT = 2000


class _ChangedMeanwhile(Exception):
    """An item left the pending statuses between the checks and the transaction."""


class ItemStatus(StrEnum):
    OPEN = "ouvert"
    ON_AGENDA = "ordre_du_jour"
    DONE = "traite"
    MERGED = "fusionne"
    REMOVED = "retire"

    @property
    def pending(self) -> bool:
        """Still to be dealt with: listed, and carried over to the next agenda."""
        return self in (ItemStatus.OPEN, ItemStatus.ON_AGENDA)


PENDING = (ItemStatus.OPEN, ItemStatus.ON_AGENDA)
_PENDING_VALUES = tuple(status.value for status in PENDING)


@dataclass(frozen=True)
class ParkedItem:
    id: int
    room_id: str
    number: int
    text: str
    author: str | None
    anonymous: bool
    source_event: str
    status: ItemStatus
    note: str | None
    merged_into: int | None
    checkin_id: int | None
    agendas: int
    created_at: datetime
    updated_at: datetime

    @property
    def shown_author(self) -> str | None:
        """Who parked it, as lists and agendas may show it (None when anonymous)."""
        return None if self.anonymous else self.author


_COLUMNS = (
    "id, room_id, number, text, author, anonymous, source_event, status, note, merged_into,"
    " checkin_id, agendas, created_at, updated_at"
)


def _item(row: Any) -> ParkedItem:
    return ParkedItem(
        id=int(row["id"]),
        room_id=row["room_id"],
        number=int(row["number"]),
        text=row["text"],
        author=row["author"],
        anonymous=bool(row["anonymous"]),
        source_event=row["source_event"],
        status=ItemStatus(row["status"]),
        note=row["note"],
        merged_into=row["merged_into"],
        checkin_id=row["checkin_id"],
        agendas=int(row["agendas"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


class ParkingRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def park(
        self,
        room_id: str,
        text: str,
        author: str,
        *,
        anonymous: bool,
        source_event: str,
        checkin_id: int | None,
        now: datetime,
    ) -> tuple[ParkedItem, bool]:
        """Park `text`; returns (item, created). The same source event gives the same item."""
        if not text.strip() or len(text) > MAX_TEXT:
            raise ValueError("parked text must be 1..MAX_TEXT characters")
        async with self._db.transaction() as db:
            async with db.execute(
                f"SELECT {_COLUMNS} FROM parked_items WHERE room_id = ? AND source_event = ?",
                (room_id, source_event),
            ) as cursor:
                existing = await cursor.fetchone()
            if existing is not None:
                return _item(existing), False
            async with db.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM parked_items WHERE room_id = ?",
                (room_id,),
            ) as cursor:
                row = await cursor.fetchone()
            number = int(row[0]) if row else 1
            await db.execute(
                "INSERT INTO parked_items (room_id, number, text, author, anonymous,"
                " source_event, checkin_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    room_id,
                    number,
                    text,
                    author,
                    int(anonymous),
                    source_event,
                    checkin_id,
                    now.isoformat(),
                    now.isoformat(),
                ),
            )
        item = await self.get(room_id, number)
        assert item is not None
        return item, True

    async def get(self, room_id: str, number: int) -> ParkedItem | None:
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM parked_items WHERE room_id = ? AND number = ?",
            (room_id, number),
        )
        return None if row is None else _item(row)

    async def items(
        self, room_id: str, statuses: Collection[ItemStatus] | None = None
    ) -> list[ParkedItem]:
        """Items by number; all of them, or those with one of `statuses`."""
        if statuses is None:
            rows = await self._db.fetch_all(
                f"SELECT {_COLUMNS} FROM parked_items WHERE room_id = ? ORDER BY number",
                (room_id,),
            )
        else:
            marks = ", ".join("?" for _ in statuses)
            rows = await self._db.fetch_all(
                f"SELECT {_COLUMNS} FROM parked_items WHERE room_id = ?"
                f" AND status IN ({marks}) ORDER BY number",
                (room_id, *(s.value for s in statuses)),
            )
        return [_item(row) for row in rows]

    async def set_status(
        self,
        room_id: str,
        number: int,
        status: ItemStatus,
        now: datetime,
        *,
        note: str | None = None,
    ) -> ParkedItem | None:
        await self._db.execute(
            "UPDATE parked_items SET status = ?, note = COALESCE(?, note), updated_at = ?"
            " WHERE room_id = ? AND number = ?",
            (status.value, note, now.isoformat(), room_id, number),
        )
        return await self.get(room_id, number)

    async def anonymise(self, room_id: str, number: int, now: datetime) -> ParkedItem | None:
        await self._db.execute(
            "UPDATE parked_items SET anonymous = 1, updated_at = ?"
            " WHERE room_id = ? AND number = ?",
            (now.isoformat(), room_id, number),
        )
        return await self.get(room_id, number)

    async def merge(
        self, room_id: str, keep: int, absorb: int, separator: str, now: datetime
    ) -> ParkedItem | None:
        """Append `absorb`'s text to `keep`'s and close `absorb` as merged, in one transaction.

        None when either is missing or no longer pending, or both are the same item.
        """
        first, second = await self.get(room_id, keep), await self.get(room_id, absorb)
        if first is None or second is None or first.id == second.id:
            return None
        if not (first.status.pending and second.status.pending):
            return None
        merged = f"{first.text}{separator}{second.text}"
        try:
            await self._merge(first.id, second.id, merged, now)
        except _ChangedMeanwhile:
            return None
        return await self.get(room_id, keep)

    async def _merge(self, keep_id: int, absorb_id: int, merged: str, now: datetime) -> None:
        async with self._db.transaction() as db:
            # Both still pending inside the transaction, or nothing changes.
            closed = await db.execute(
                "UPDATE parked_items SET status = ?, merged_into = ?, updated_at = ?"
                " WHERE id = ? AND status IN (?, ?)",
                (ItemStatus.MERGED.value, keep_id, now.isoformat(), absorb_id, *_PENDING_VALUES),
            )
            grown = await db.execute(
                "UPDATE parked_items SET text = ?, updated_at = ?"
                " WHERE id = ? AND status IN (?, ?)",
                (merged, now.isoformat(), keep_id, *_PENDING_VALUES),
            )
            if closed.rowcount != 1 or grown.rowcount != 1:
                raise _ChangedMeanwhile  # the transaction rolls back

    async def count_for_checkin(self, checkin_id: int) -> int:
        row = await self._db.fetch_one(
            "SELECT COUNT(*) FROM parked_items WHERE checkin_id = ?", (checkin_id,)
        )
        return 0 if row is None else int(row[0])

    # -- agendas ---------------------------------------------------------------------------

    async def agenda_for_meeting(self, room_id: str, meeting_at: datetime) -> int | None:
        row = await self._db.fetch_one(
            "SELECT id FROM agendas WHERE room_id = ? AND meeting_at = ?",
            (room_id, meeting_at.isoformat()),
        )
        return None if row is None else int(row["id"])

    async def record_agenda(
        self,
        room_id: str,
        meeting_at: datetime | None,
        items: Iterable[ParkedItem],
        now: datetime,
        *,
        target_room: str,
    ) -> int | None:
        """Record that these items go on an agenda, and queue its post, in one transaction.

        The items become « à l'ordre du jour ». Returns the agenda's id, or None if that
        meeting's agenda was already recorded (a restart must not post it twice). An item
        already on an earlier agenda is carried over. The post goes through the outbox (key
        `agenda:<id>`), so it is sent exactly once, after a crash too.
        """
        async with self._db.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO agendas (room_id, meeting_at, posted_at) VALUES (?, ?, ?)"
                " ON CONFLICT (room_id, meeting_at) DO NOTHING",
                (room_id, None if meeting_at is None else meeting_at.isoformat(), now.isoformat()),
            )
            if cursor.rowcount != 1:
                return None
            agenda_id = cursor.lastrowid
            assert agenda_id is not None
            position = 0
            for item in items:
                # Only items still pending when the transaction runs: one marked dealt with
                # or removed a moment ago stays off the agenda.
                cursor = await db.execute(
                    "UPDATE parked_items SET status = ?, agendas = agendas + 1, updated_at = ?"
                    " WHERE id = ? AND status IN (?, ?)",
                    (ItemStatus.ON_AGENDA.value, now.isoformat(), item.id, *_PENDING_VALUES),
                )
                if cursor.rowcount != 1:
                    continue
                position += 1
                await db.execute(
                    "INSERT INTO agenda_items (agenda_id, item_id, position, carried)"
                    " VALUES (?, ?, ?, ?)",
                    (agenda_id, item.id, position, int(item.agendas > 0)),
                )
            post = {
                "to": "room",
                "room": room_id,
                "target": target_room,
                "kind": "agenda",
                "agenda": agenda_id,
                "meeting": _iso(meeting_at),
            }
            await db.execute(
                "INSERT INTO outbox (key, effect, created_at) VALUES (?, ?, ?)",
                (f"agenda:{agenda_id}", json.dumps(post), now.isoformat()),
            )
        return agenda_id

    async def agenda_items(self, agenda_id: int) -> list[tuple[ParkedItem, bool]]:
        rows = await self._db.fetch_all(
            f"SELECT {', '.join('p.' + c.strip() for c in _COLUMNS.split(','))}, a.carried"
            " FROM agenda_items a JOIN parked_items p ON p.id = a.item_id"
            " WHERE a.agenda_id = ? ORDER BY a.position",
            (agenda_id,),
        )
        return [(_item(row), bool(row["carried"])) for row in rows]


class MeetingScheduleRepository:
    """When each group's team meets: the agenda is posted a lead time before."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, room_id: str) -> Schedule | None:
        row = await self._db.fetch_one(
            "SELECT room_id, weekday, start_time, every_weeks, timezone, anchor_date"
            " FROM meeting_schedules WHERE room_id = ?",
            (room_id,),
        )
        if row is None:
            return None
        return Schedule(
            room_id=row["room_id"],
            weekday=int(row["weekday"]),
            start=time.fromisoformat(row["start_time"]),
            every_weeks=int(row["every_weeks"]),
            timezone=row["timezone"],
            anchor=date.fromisoformat(row["anchor_date"]),
        )

    async def save(self, schedule: Schedule, now: datetime) -> None:
        await self._db.execute(
            "INSERT INTO meeting_schedules (room_id, weekday, start_time, every_weeks, timezone,"
            " anchor_date, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (room_id) DO UPDATE SET weekday = excluded.weekday,"
            " start_time = excluded.start_time, every_weeks = excluded.every_weeks,"
            " timezone = excluded.timezone, anchor_date = excluded.anchor_date,"
            " updated_at = excluded.updated_at",
            (
                schedule.room_id,
                schedule.weekday,
                schedule.start.strftime("%H:%M"),
                schedule.every_weeks,
                schedule.timezone,
                schedule.anchor.isoformat(),
                now.isoformat(),
            ),
        )

    async def delete(self, room_id: str) -> bool:
        return (
            await self._db.execute("DELETE FROM meeting_schedules WHERE room_id = ?", (room_id,))
            == 1
        )

    async def all(self) -> list[Schedule]:
        rows = await self._db.fetch_all("SELECT room_id FROM meeting_schedules ORDER BY room_id")
        schedules = [await self.get(row["room_id"]) for row in rows]
        return [s for s in schedules if s is not None]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
